"""The Logs facade's framing: requests checked against botocore's `logs` model, errors in
AWS's JSON shape with CloudWatch Logs' codes."""

from __future__ import annotations

import json
from pathlib import Path

from turnout.api.logs.facade import handle
from turnout.api.logs.groups import LogFiles
from turnout.api.logs.operations import Logs

TARGET = "Logs_20140328."


def call(tmp_path: Path, operation: str, body: bytes) -> tuple[int, dict[str, object]]:
    reply = handle(Logs(LogFiles(tmp_path), "123456789012", "us-east-1"), TARGET + operation, body)
    return reply.status, json.loads(reply.body)


def test_operations_turnout_does_not_serve_are_unknown(tmp_path: Path) -> None:
    status, body = call(tmp_path, "PutLogEvents", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_broken_constraints_are_invalid_parameters(tmp_path: Path) -> None:
    status, body = call(tmp_path, "GetLogEvents", b'{"logGroupName": "/aws/x", "limit": 0}')
    assert (status, body["__type"]) == (400, "InvalidParameterException")
    assert str(body["message"]).startswith("2 validation errors detected: ")
    assert "at 'logStreamName' failed to satisfy constraint: Member must not be null" in str(
        body["message"]
    )


def test_a_body_that_is_not_json_is_a_serialization_error(tmp_path: Path) -> None:
    status, body = call(tmp_path, "DescribeLogGroups", b"[[[")
    assert (status, body["__type"]) == (400, "SerializationException")


def test_without_logs_there_are_no_groups(tmp_path: Path) -> None:
    assert call(tmp_path / "absent", "DescribeLogGroups", b"") == (200, {"logGroups": []})
