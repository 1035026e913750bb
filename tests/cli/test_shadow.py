"""`turnout endpoint-config create --shadow` and `turnout shadow ...` over the native API:
a shadow variant's report, a shadow test started, shown and promoted from the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import plain
from tests.support.endpoints import poll_until
from tests.support.models import contrary_row, digits_rows, make_shadow_model
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e


def turnout(server: BackgroundServer, *args: str, code: int = 0) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", *args, "--url", server.url],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    return plain(done.stdout + done.stderr)


def test_shadow_from_the_terminal(server: BackgroundServer, client: Client, tmp_path: Path) -> None:
    for name, mode in (("cli-prod", "none"), ("cli-contrary", "contrary")):
        client.create_model(name, str(make_shadow_model(tmp_path / name, mode)))
    turnout(server, "endpoint-config", "create", "cli-mirrored", "-v", "A=cli-prod",
            "-s", "B=cli-contrary,weight=1")  # fmt: skip
    shown = json.loads(turnout(server, "endpoint-config", "describe", "cli-mirrored", "--json"))
    assert [v["name"] for v in shown["shadow_variants"]] == ["B"]
    turnout(server, "endpoint", "create", "cli-shadow", "cli-mirrored")
    rows, _ = digits_rows(60, seed=4)
    for row in rows:
        assert client.invoke("cli-shadow", json.dumps(row)).variant == "A"
    expected = 1 - sum(contrary_row(r) for r in rows) / len(rows)

    poll_until(  # through the API: a CLI process per look would cost seconds each
        lambda: client.shadow_reports("cli-shadow"),
        lambda r: bool(r) and r[0]["compared"] == 60,
        30,
        "pairs",
    )
    (found,) = json.loads(turnout(server, "shadow", "report", "cli-shadow", "--json"))
    assert found["agreement"] == pytest.approx(expected)
    table = turnout(server, "shadow", "report", "cli-shadow")
    assert f"agreement {expected:.2%} of 60" in " ".join(table.split())

    # A shadow test on a plain endpoint, then promoted.
    turnout(server, "endpoint-config", "create", "cli-plain", "-v", "A=cli-prod")
    turnout(server, "endpoint", "update", "cli-shadow", "cli-plain")
    started = turnout(server, "shadow", "start", "cli-test", "-e", "cli-shadow", "-m",
                      "cli-contrary", "--sampling", "50")  # fmt: skip
    assert "shadow test cli-test" in started
    poll_until(
        lambda: client.describe_inference_experiment("cli-test")["Status"],
        lambda s: s == "Running",
        60,
        "the shadow test to run",
    )
    listed = turnout(server, "shadow", "list")
    assert "cli-test" in listed and "50%" in listed
    assert "shadow test cli-test: Running" in turnout(server, "shadow", "show", "cli-test")
    turnout(server, "shadow", "stop", "cli-test", "--promote")
    poll_until(
        lambda: client.describe_inference_experiment("cli-test")["Status"],
        lambda s: s == "Completed",
        60,
        "the shadow test to complete",
    )
    endpoint = client.describe_endpoint("cli-shadow")
    config = client.describe_endpoint_config(endpoint["config"])
    assert [(v["name"], v["model"]) for v in config["variants"]] == [("A", "cli-contrary")]
    assert config["shadow_variants"] == []
    stop_again = turnout(server, "shadow", "stop", "cli-test", code=1)
    assert "Completed" in stop_again
