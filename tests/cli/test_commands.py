"""The `turnout` executable against a real `turnout serve`: a person's whole session.

Register models (a directory and a model.tar.gz), create an endpoint config and an endpoint,
invoke it (JSON, CSV, a file, stdin, a pinned variant), change its traffic live, read the
tables and the --json documents, delete everything; and the errors a person causes print
one `error:` line on stderr with exit status 1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Artifacts
from tests.support.models import BROKEN_MESSAGE, digits_rows, make_tarball
from turnout.cli.background import BackgroundServer

from .conftest import one_error_line, plain

pytestmark = pytest.mark.e2e

_SCRIPT = Path(sys.executable).with_name("turnout")
# The installed console script when there is one (as a person runs it), else the module.
TURNOUT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "turnout.cli.main"]
ROWS, LABELS = digits_rows(3)
ENDPOINT = "cli-digits"


def turnout(
    server: BackgroundServer, *args: str, stdin: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `turnout ARGS` against `server` (via TURNOUT_URL); with `ok`, it must succeed."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS")}
    env.update(TURNOUT_URL=server.url, NO_COLOR="1", COLUMNS="200", TERMINAL_WIDTH="200")
    done = subprocess.run(
        [*TURNOUT, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    if ok:
        assert done.returncode == 0, f"turnout {' '.join(args)}: {done.stderr}{done.stdout}"
        assert "Traceback" not in done.stderr
    return done


def as_json(server: BackgroundServer, *args: str) -> Any:
    return json.loads(turnout(server, *args, "--json").stdout)


def fails(server: BackgroundServer, *args: str) -> str:
    """The one error line of a command that must fail with exit status 1."""
    done = turnout(server, *args, ok=False)
    assert done.returncode == 1, f"{done.returncode}: {done.stderr}"
    return one_error_line(done.stderr)


def variants_of(endpoint: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in endpoint["variants"]}


def ready_counts(endpoint: dict[str, Any]) -> dict[str, int]:
    return {v["name"]: sum(i["ready"] for i in v["instances"]) for v in endpoint["variants"]}


@pytest.fixture(scope="module")
def models(server: BackgroundServer, artifacts: Artifacts, tmp_path_factory: Any) -> list[str]:
    """Two models registered with `turnout model create`: a directory and a .tar.gz."""
    tarball = make_tarball(
        artifacts.sklearn_slow_learner, tmp_path_factory.mktemp("tgz") / "model.tar.gz"
    )
    done = turnout(server, "model", "create", "cli-dir", str(artifacts.sklearn))
    assert "model cli-dir registered (sklearn flavor)" in plain(done.stdout)
    created = as_json(server, "model", "create", "cli-tgz", str(tarball))
    assert created["name"] == "cli-tgz"
    assert created["flavor"] == "sklearn"
    assert created["artifact"] == str(tarball)
    return ["cli-dir", "cli-tgz"]


@pytest.fixture(scope="module")
def endpoint(server: BackgroundServer, models: list[str]) -> str:
    """An endpoint with A (1 instance) and B (2 instances) at 50/50, created by the CLI."""
    done = turnout(
        server, "endpoint-config", "create", "cli-config",
        "-v", "A=cli-dir,weight=0.5", "-v", "B=cli-tgz,weight=0.5,instances=2",
    )  # fmt: skip
    assert "endpoint config cli-config created" in plain(done.stdout)
    done = turnout(server, "endpoint", "create", ENDPOINT, "cli-config")  # waits by default
    text = plain(done.stdout)
    assert "InService" in text
    assert f"POST {server.url}/endpoints/{ENDPOINT}/invocations" in text
    assert ready_counts(as_json(server, "endpoint", "describe", ENDPOINT)) == {"A": 1, "B": 2}
    return ENDPOINT


def test_models_are_listed_and_described(server: BackgroundServer, models: list[str]) -> None:
    listed = {m["name"]: m for m in as_json(server, "model", "list")}
    assert set(models) <= set(listed)
    assert all(listed[name]["flavor"] == "sklearn" for name in models)
    assert as_json(server, "model", "describe", "cli-dir")["artifact"].endswith("sklearn")
    table = plain(turnout(server, "model", "list").stdout)
    assert "cli-dir" in table and "cli-tgz" in table


def test_endpoint_config_as_declared(server: BackgroundServer, endpoint: str) -> None:
    config = as_json(server, "endpoint-config", "describe", "cli-config")
    assert [
        (v["name"], v["model"], v["instance_count"], v["weight"]) for v in config["variants"]
    ] == [
        ("A", "cli-dir", 1, 0.5),
        ("B", "cli-tgz", 2, 0.5),
    ]
    assert "cli-config" in {c["name"] for c in as_json(server, "endpoint-config", "list")}


def test_endpoint_is_in_service_with_its_instances(server: BackgroundServer, endpoint: str) -> None:
    described = as_json(server, "endpoint", "describe", endpoint)
    assert (described["status"], described["config"]) == ("InService", "cli-config")
    wanted = {name: v["desired_instance_count"] for name, v in variants_of(described).items()}
    assert ready_counts(described) == wanted


def test_invoke_json(server: BackgroundServer, endpoint: str) -> None:
    done = turnout(server, "invoke", endpoint, json.dumps(ROWS))
    assert json.loads(done.stdout) == LABELS
    assert plain(done.stderr).split()[:2] in (["variant", "A"], ["variant", "B"])


def test_invoke_csv_with_pinned_variant(server: BackgroundServer, endpoint: str) -> None:
    csv = "\n".join(",".join(f"{v:g}" for v in row) for row in ROWS)
    done = turnout(
        server, "invoke", endpoint, csv, "--content-type", "text/csv", "--accept", "text/csv",
        "--target-variant", "B",
    )  # fmt: skip
    assert [int(float(line)) for line in done.stdout.split()] == LABELS
    assert "variant B · text/csv" in plain(done.stderr)


def test_invoke_from_file_and_stdin(
    server: BackgroundServer, endpoint: str, tmp_path: Path
) -> None:
    body = tmp_path / "body.json"
    body.write_text(json.dumps(ROWS[:1]))
    assert json.loads(turnout(server, "invoke", endpoint, "--file", str(body)).stdout) == LABELS[:1]
    piped = turnout(server, "invoke", endpoint, "--file", "-", stdin=json.dumps(ROWS[1:2]))
    assert json.loads(piped.stdout) == LABELS[1:2]


def test_traffic_changes_weights_live(server: BackgroundServer, endpoint: str) -> None:
    changed = as_json(server, "traffic", endpoint, "A=0.9", "B=0.1")  # waits for InService
    assert changed["status"] == "InService"
    weights = {
        n: (v["current_weight"], v["desired_weight"]) for n, v in variants_of(changed).items()
    }
    assert weights == {"A": (0.9, 0.9), "B": (0.1, 0.1)}

    described = as_json(server, "endpoint", "describe", endpoint)
    assert {n: v["current_weight"] for n, v in variants_of(described).items()} == {
        "A": 0.9,
        "B": 0.1,
    }
    table = plain(turnout(server, "endpoint", "describe", endpoint).stdout)
    assert "0.9 → 0.9" in table and "90%" in table and "10%" in table
    listed = plain(turnout(server, "endpoint", "list").stdout)
    assert "A 90%, B 10%" in listed
    # The config is immutable: it keeps the weights it was created with.
    config = as_json(server, "endpoint-config", "describe", "cli-config")
    assert [v["weight"] for v in config["variants"]] == [0.5, 0.5]


def test_traffic_changes_instance_counts(server: BackgroundServer, endpoint: str) -> None:
    changed = as_json(server, "traffic", endpoint, "--instances", "B=1")
    b = variants_of(changed)["B"]
    assert (b["current_instance_count"], b["desired_instance_count"]) == (1, 1)
    assert json.loads(turnout(server, "invoke", endpoint, json.dumps(ROWS)).stdout) == LABELS


def test_endpoint_wait_on_an_endpoint_in_service(server: BackgroundServer, endpoint: str) -> None:
    assert "InService" in plain(turnout(server, "endpoint", "wait", endpoint).stdout)


def test_whole_lifecycle_update_then_delete(server: BackgroundServer, models: list[str]) -> None:
    turnout(server, "endpoint-config", "create", "life-1", "-v", "only=cli-dir")
    turnout(server, "endpoint-config", "create", "life-2", "-v", "only=cli-tgz")
    created = as_json(server, "endpoint", "create", "life", "life-1")
    assert created["status"] == "InService"

    updated = as_json(server, "endpoint", "update", "life", "life-2")
    assert (updated["status"], updated["config"], updated["pending_config"]) == (
        "InService", "life-2", None,
    )  # fmt: skip

    done = turnout(server, "endpoint", "delete", "life")  # waits until gone
    assert "endpoint life deleted" in plain(done.stdout)
    assert "life" not in {e["name"] for e in as_json(server, "endpoint", "list")}
    for config in ("life-1", "life-2"):
        turnout(server, "endpoint-config", "delete", config)
    assert not {"life-1", "life-2"} & {
        c["name"] for c in as_json(server, "endpoint-config", "list")
    }
    assert "Could not find endpoint config" in fails(
        server, "endpoint-config", "describe", "life-1"
    )


def test_model_delete(server: BackgroundServer, artifacts: Artifacts) -> None:
    turnout(server, "model", "create", "short-lived", str(artifacts.sklearn))
    assert "model short-lived deleted" in plain(
        turnout(server, "model", "delete", "short-lived").stdout
    )
    assert "short-lived" not in {m["name"] for m in as_json(server, "model", "list")}


# -- errors a person causes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["endpoint", "describe", "nope"], 'Could not find endpoint "nope"'),
        (["endpoint", "delete", "nope"], 'Could not find endpoint "nope"'),
        (["traffic", "nope", "A=1"], 'Could not find endpoint "nope"'),
        (["invoke", "nope", "[[1]]"], "Endpoint nope of account"),
        (["model", "describe", "nope"], 'Could not find model "nope"'),
        (["endpoint-config", "create", "c", "-v", "A=nope"], 'Could not find model "nope"'),
        (["endpoint", "create", "e", "nope"], 'Could not find endpoint config "nope"'),
    ],
)
def test_unknown_names(server: BackgroundServer, args: list[str], expected: str) -> None:
    assert expected in fails(server, *args)


def test_duplicate_model(server: BackgroundServer, models: list[str], artifacts: Artifacts) -> None:
    line = fails(server, "model", "create", "cli-dir", str(artifacts.sklearn))
    assert 'Cannot create already existing model "cli-dir"' in line


def test_artifact_that_does_not_exist(server: BackgroundServer, tmp_path: Path) -> None:
    line = fails(server, "model", "create", "ghost", str(tmp_path / "missing"))
    assert "does not exist" in line
    assert "give a model directory or a model.tar.gz" in line


def test_artifact_that_is_no_model(server: BackgroundServer, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    line = fails(server, "model", "create", "not-a-model", str(tmp_path))
    assert f"cannot tell how to serve {tmp_path}" in line


def test_relative_artifact_paths_are_made_absolute(
    server: BackgroundServer, artifacts: Artifacts
) -> None:
    # The server may run in another directory: the CLI sends the absolute path.
    relative = os.path.relpath(artifacts.sklearn)
    created = as_json(server, "model", "create", "relative", relative)
    assert created["artifact"] == str(artifacts.sklearn.resolve())


def test_an_endpoint_that_cannot_start(server: BackgroundServer, artifacts: Artifacts) -> None:
    turnout(server, "model", "create", "broken", str(artifacts.broken))
    turnout(server, "endpoint-config", "create", "broken-config", "-v", "A=broken")
    line = fails(server, "endpoint", "create", "broken-ep", "broken-config")
    assert "endpoint broken-ep is Failed" in line
    assert BROKEN_MESSAGE in line
    assert "turnout endpoint describe broken-ep" in line  # where to look next
    described = plain(turnout(server, "endpoint", "describe", "broken-ep").stdout)
    assert "Failed" in described and BROKEN_MESSAGE in described
    assert "delete it and create it again" in fails(server, "traffic", "broken-ep", "A=2")
    turnout(server, "endpoint", "delete", "broken-ep")


def test_no_server_at_url(server: BackgroundServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    line = fails(server, "endpoint", "list", "--url", url)  # --url wins over TURNOUT_URL
    assert line == f'error: cannot reach turnout at {url}: start it with "turnout serve"'


def test_bad_name_message_shows_the_pattern(server: BackgroundServer, models: list[str]) -> None:
    line = fails(server, "endpoint-config", "create", "bad_name", "-v", "A=cli-dir")
    assert "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$" in line


def test_model_error_is_one_line(server: BackgroundServer, endpoint: str) -> None:
    line = fails(server, "invoke", endpoint, "[[1, 2]]")  # 2 features, the model wants 64
    assert "64 features" in line


def test_traffic_for_an_unknown_variant(server: BackgroundServer, endpoint: str) -> None:
    assert "Z" in fails(server, "traffic", endpoint, "Z=1")


@pytest.mark.parametrize(
    ("db", "expected"),
    [("nonsense://x", "bad --db URL"), ("postgresql+psycopg://127.0.0.1:1/x", "cannot open")],
)
def test_serve_with_an_unusable_db(
    server: BackgroundServer, tmp_path: Path, db: str, expected: str
) -> None:
    line = fails(server, "serve", "--port", "0", "--data-dir", str(tmp_path), "--db", db)
    assert expected in line
    assert "--db" in line
