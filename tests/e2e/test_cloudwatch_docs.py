"""docs/cloudwatch.md's Python examples, run as written against a real `turnout serve`
(with `endpoint_url` pointed at it): endpoint `digits` with variants A and B, and a config
`digits-v2` of a model failing 30% of its requests, which the alarm example rolls back."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, finished
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Variant

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "cloudwatch.md"
ROW = str(digits_rows(1)[0][0])


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def run(code: str, server: BackgroundServer, scope: dict[str, Any]) -> str:
    """Run one example in `scope` (shared, as in one notebook); what it printed."""
    code = code.replace("http://127.0.0.1:8080", server.url)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DOC), "exec"), scope)  # our own docs
    return printed.getvalue()


def test_the_examples_run_as_written(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts, tmp_path: Path
) -> None:
    metrics, alarm, after, errors = examples()
    deploy("digits", [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    client.create_model("digits-flaky", str(artifacts.flaky))
    client.create_endpoint_config("digits-v2", [Variant("A", "digits-flaky")])
    scope: dict[str, Any] = {}
    with LoadProcess(
        tmp_path / "load.json", server.url, "digits", concurrency=2, duration=120, body=ROW
    ) as load:
        load.wait_for(100)
        printed = run(metrics, server, scope)
        assert re.search(r"^A [1-9]\d*\.0$", printed, flags=re.M), printed
        assert "'Invocations'" in printed and "µs" in printed
        run(alarm, server, scope)
        deployment = finished(client, "digits")
        load.stop()
    assert deployment["phase"] == "RolledBack", deployment
    printed = run(after, server, scope)
    assert printed.startswith("ALARM Threshold Crossed"), printed
    assert "Alarm updated from" in printed
    printed = run(errors, server, scope)
    assert printed.startswith("Namespace AWS/EC2 is not served here"), printed
