"""schemathesis over a real `turnout serve`'s /api/v1/openapi.json: no 5xx, and every
answer's status, content type and body as the document says.

TURNOUT_FUZZ_EXAMPLES sets the cases per operation and mode (docs/testing.md).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis

from tests.fuzz.openapi import fuzz_openapi, fuzz_rest_wire
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

# Their success starts, replaces or stops model processes: only ever sent invalid.
GUARDED = {
    ("POST", "/api/v1/endpoints"),
    ("PATCH", "/api/v1/endpoints/{name}"),
    ("POST", "/api/v1/endpoints/{name}/deployment/{action}"),
    ("POST", "/api/v1/inference-experiments"),  # shadow variants are model processes too
}


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--s3-endpoint-url", "http://127.0.0.1:9")  # s3:// artifacts fail at once


def test_the_rest_api(server: BackgroundServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    report = fuzz_openapi(schema, server.url, guarded=GUARDED)
    print(report)
    assert not report.findings, str(report)


def test_the_rest_api_on_the_wire(server: BackgroundServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        document = http.get("/api/v1/openapi.json").json()
        report = fuzz_rest_wire(http, document)
    print(report)
    assert not report.findings, str(report)
