"""`turnout top`: the per-variant numbers of every endpoint, in the terminal, at 80 columns."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import plain
from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, bake_canary, poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.cli.top import COLUMNS
from turnout.client import Client, Variant

pytestmark = pytest.mark.e2e

ROWS, _ = digits_rows(1)
TMUX = shutil.which("tmux")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "cli"
ROLES = ("serving", "blue", "green", "retired", "shadow")
FIGURE = re.compile(r"-|<?\d+(\.\d+)?(e-\d+)?[kMG%]?|\d+/\d+|\d+(\.\d+)?→\d+(\.\d+)?")
ROW = re.compile(rf"^\s*(\S+)\s+({'|'.join(ROLES)})\s+(.*)$")


def top_once(server: BackgroundServer, columns: int = 200) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "top", "--once", "--url", server.url],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return plain(done.stdout)


def section(shown: str, endpoint: str) -> list[str]:
    """The lines of one endpoint: its heading down to the blank line before the next."""
    lines = shown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{endpoint} "))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def rows_of(lines: list[str]) -> dict[tuple[str, str], list[str]]:
    """(role, variant) → the row's figures (weight, share, ready, req5m, ...)."""
    found = {}
    for line in lines:
        match = ROW.match(line)
        if match:
            found[(match[2], match[1])] = match[3].split()
    return found


def test_top_shows_each_variant_with_its_requests(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts
) -> None:
    deploy("top", [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    sent = {"A": 7, "B": 3}
    for variant, count in sent.items():
        for _ in range(count):
            client.invoke("top", ROWS, target_variant=variant)
    lines = section(top_once(server), "top")
    assert "top-config" in lines[0] and "InService" in lines[0]
    rows = rows_of(lines)
    assert set(rows) == {("serving", "A"), ("serving", "B")}, lines
    for variant, count in sent.items():
        weight, share, ready, requests = rows[("serving", variant)][:4]
        assert (weight, share, ready, requests) == ("1", "50%", "1/1", str(count))


def number(text: str) -> float | None:
    """A figure as top prints it ("1.2k", "45%", "512M", "-") back as a number."""
    if text == "-":
        return None
    text = text.removeprefix("<")
    scale = {"k": 1e3, "M": 1e6, "G": 1e9, "%": 0.01}.get(text[-1], 1.0)
    return float(text.rstrip("kMG%")) * scale


def close(shown: str, expected: float | None, rel: float = 0.05) -> bool:
    value = number(shown)
    if expected is None or value is None:
        return value == expected
    return abs(value - expected) <= max(rel * abs(expected), 0.01)


@pytest.fixture
def tmux(tmp_path: Path) -> Any:
    """A private tmux server (its own socket), killed afterwards: nobody else's sessions."""
    if TMUX is None:
        pytest.skip("no tmux on this machine: install Debian's `tmux`")
    socket = str(tmp_path / "tmux.sock")
    env = {**os.environ, "TERM": "xterm-256color"}

    def run(*args: str) -> str:
        done = subprocess.run(
            [TMUX, "-S", socket, *args], capture_output=True, text=True, timeout=20, env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    yield run
    subprocess.run([TMUX, "-S", socket, "kill-server"], capture_output=True, timeout=20)


def test_top_at_80_columns_shows_every_figure_unclipped_during_a_deployment(
    server: BackgroundServer,
    client: Client,
    deploy: Deploy,
    artifacts: Artifacts,
    tmp_path: Path,
    tmux: Any,
) -> None:
    name = "top80"
    deploy(name, [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    green = f"{name}-green-config-with-a-long-name"
    client.create_endpoint_config(
        green, [Variant("A", f"{name}-A", weight=3.0), Variant("B", f"{name}-B", weight=1.0)]
    )
    client.create_alarm(
        f"{name}-busy", name, "Invocations", "Sum", 1e9, "LessThanThreshold",
        treat_missing_data="breaching",
    )  # fmt: skip
    bake_canary(client, name, green)
    # Over a thousand requests: the counts need their compact unit ("1.5k").
    with LoadProcess(tmp_path / "load.json", server.url, name, concurrency=4,
                     requests=1500) as load:  # fmt: skip
        result = load.finish()
    assert result.ok == 1500, result.describe()

    top = f"{sys.executable} -m turnout.cli.main top --interval 1 --url {server.url}"
    tmux("new-session", "-d", "-x", "80", "-y", "60", "-s", "top", top)

    def screen() -> list[str]:
        shown = tmux("capture-pane", "-p", "-t", "top")
        return section(shown, name) if f"{name} " in shown else []

    lines = poll_until(
        screen, lambda s: len(rows_of(s)) == 4, timeout=30, what="top's rows for both fleets"
    )
    item = next(e for e in client.overview()["endpoints"] if e["endpoint"]["name"] == name)
    text = "\n".join(lines)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "top-80-columns.txt").write_text(text + "\n")
    assert "…" not in text and "..." not in text, text
    assert all(len(line) <= 80 for line in lines)
    assert any(line.split() == list(COLUMNS) for line in lines), text  # no header folded
    assert "step 1 of 2 · green 10% · Baking" in text, text
    assert re.search(rf"{name}-busy\s+ALARM", text), text
    rows = rows_of(lines)
    numbers = {(r["config"], r["variant"]): r for r in item["summary"]}
    for fleet in item["fleets"]:
        for v in fleet["variants"]:
            cells = rows[(fleet["role"], v["variant"])]
            assert len(cells) == 10, cells  # every figure in its column, none dropped
            weight, share, ready, requests, rps, errors, p50, p99 = cells[:8]
            assert number(weight) == v["current_weight"] == v["desired_weight"]
            assert close(share, v["share"], rel=0.001)
            assert ready == f"{sum(i['ready'] for i in v['instances'])}/{len(v['instances'])}"
            figures = numbers[(v["config"], v["variant"])]
            assert close(requests, figures["invocations"])
            assert close(rps, figures["rps"], rel=0.3)  # the rate's window moves on
            assert close(errors, figures["error_rate"])
            assert close(p50, figures["p50_ms"]) and close(p99, figures["p99_ms"])
            # CPU and memory: sampled apart from this JSON, so only their form is checked.
            assert all(FIGURE.fullmatch(c) for c in cells), cells
    # Each fleet's own weights: blue 1:1, green 3:1 (shares 45/45, 7.5/2.5).
    assert [rows[("blue", v)][:2] for v in "AB"] == [["1", "45%"], ["1", "45%"]]
    assert [rows[("green", v)][:2] for v in "AB"] == [["3", "7.5%"], ["1", "2.5%"]]
    assert "1.5k req in 5 min" in text, text  # the endpoint's total, in its compact unit
