"""Which requests on the one port are CloudWatch's: the CBOR path, its X-Amz-Target, or a
form posted to `/` without another service's X-Amz-Target."""

from __future__ import annotations

import pytest

from turnout.api.cloudwatch import is_cloudwatch_request

FORM = (b"content-type", b"application/x-www-form-urlencoded")
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/ListMetrics"


@pytest.mark.parametrize(
    ("method", "path", "headers", "expected"),
    [
        ("POST", CBOR_PATH, [], True),
        ("POST", "/", [(b"x-amz-target", b"GraniteServiceVersion20100801.ListMetrics")], True),
        ("POST", "/", [FORM], True),
        # curl -d sends a form content type with anything: the target decides
        ("POST", "/", [(b"x-amz-target", b"SageMaker.ListModels"), FORM], False),
        ("POST", "/", [(b"x-amz-target", b"Logs_20140328.GetLogEvents")], False),
        ("POST", "/", [(b"content-type", b"application/x-amz-json-1.1")], False),
        ("GET", "/", [FORM], False),
        ("POST", "/api/v1/alarms", [FORM], False),
    ],
)
def test_cloudwatch_requests_are_told_apart(
    method: str, path: str, headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    assert is_cloudwatch_request(scope) is expected
