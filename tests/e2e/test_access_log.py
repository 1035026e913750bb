"""`turnout serve --access-log` writes one line per request (time, method, path, endpoint,
variant, status, latency, the caller's key) to stderr; without the option, none. The line is
handed to a writer thread over a bounded queue: a stuck stderr never holds up a request."""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import time
from pathlib import Path

import boto3
import httpx
import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from tests.support.models import digits_rows
from turnout.api.access_log import QUEUE_LINES, AccessLog
from turnout.asgi import Message, Receive, Scope, Send
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

ROWS, LABELS = digits_rows(1)
DEPLOYMENT = "/api/v1/endpoints/logged/deployment"
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<method>[A-Z]+) (?P<path>\S+) "
    r"endpoint=(?P<endpoint>\S+) variant=(?P<variant>\S+) status=(?P<status>\S+) "
    r"latency_ms=(?P<latency>[0-9.]+) key=(?P<key>\S+)$"
)


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--access-log",)


def access_lines(log: Path) -> list[dict[str, str]]:
    found = (LINE.match(text) for text in log.read_text(errors="replace").splitlines())
    return [m.groupdict() for m in found if m]


def test_one_line_per_request(server: BackgroundServer, deploy: Deploy, artifacts: Artifacts):
    deploy("logged", [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    before = len(access_lines(server.log_path))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for variant in ("A", "B"):
            answer = http.post(
                "/endpoints/logged/invocations",
                json=ROWS,
                headers={"X-Amzn-SageMaker-Target-Variant": variant},
            )
            assert answer.status_code == 200
        assert http.post("/endpoints/nope/invocations", json=ROWS).status_code == 400
        assert http.get(DEPLOYMENT).status_code == 200
    runtime = boto3.client(
        "sagemaker-runtime", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="AKIDLOGGED", aws_secret_access_key="secret",
    )  # fmt: skip
    runtime.invoke_endpoint(
        EndpointName="logged", Body=json.dumps(ROWS), ContentType="application/json"
    )
    mine = {"/endpoints/logged/invocations", "/endpoints/nope/invocations", DEPLOYMENT}

    def logged() -> list[dict[str, str]]:  # deploy()'s polls may still be on their way
        return [line for line in access_lines(server.log_path)[before:] if line["path"] in mine]

    lines = poll_until(
        logged,
        lambda found: len(found) >= 5,
        10,
        "five access lines",
    )
    assert len(lines) == 5, lines
    a, b, unknown, rest, signed = lines
    assert (a["method"], a["path"]) == ("POST", "/endpoints/logged/invocations")
    assert (a["endpoint"], a["variant"], a["status"]) == ("logged", "A", "200")
    assert (b["variant"], b["status"]) == ("B", "200")
    assert (unknown["endpoint"], unknown["variant"], unknown["status"]) == ("nope", "-", "400")
    assert (rest["method"], rest["endpoint"], rest["status"]) == ("GET", "logged", "200")
    assert signed["key"] == "AKIDLOGGED" and a["key"] == "-"
    assert signed["variant"] in ("A", "B")
    assert all(float(line["latency"]) > 0 for line in lines)


def test_off_by_default(tmp_path: Path) -> None:
    with BackgroundServer(tmp_path / "quiet") as quiet:
        for _ in range(3):
            assert httpx.get(quiet.url + "/api/v1/endpoints", timeout=30).status_code == 200
        quiet.stop()
        assert access_lines(quiet.log_path) == []


class StuckStream(io.StringIO):
    """stderr that blocks until released: a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def write(self, text: str) -> int:
        self.released.wait(30)
        return super().write(text)


@pytest.mark.parametrize("then", ["a request", "close"])
def test_a_stuck_stderr_drops_lines_instead_of_blocking(then: str) -> None:
    """The count of dropped lines rides on the next line written: a request's, or the
    one `close` writes."""

    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def ignore(message: Message) -> None:
        return None

    async def nothing() -> Message:
        return {"type": "http.request"}

    stream = StuckStream()
    logged = AccessLog(ok, stream)
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}

    async def requests(n: int) -> None:
        for _ in range(n):
            await asyncio.wait_for(logged(scope, nothing, ignore), 5)

    extra = 50
    asyncio.run(requests(QUEUE_LINES + extra))  # more than the queue holds, none waits
    stream.released.set()
    # The writer drains the queue before the next line can get through (else it is
    # dropped too, and the count rides on a line that never comes).
    deadline = time.monotonic() + 30
    while len(stream.getvalue().splitlines()) < QUEUE_LINES and time.monotonic() < deadline:
        time.sleep(0.01)
    if then == "a request":
        asyncio.run(requests(1))
    logged.close()
    written = stream.getvalue().splitlines()
    assert QUEUE_LINES < len(written) <= QUEUE_LINES + extra
    dropped = int(re.findall(r"access log: (\d+) lines dropped", written[-1])[0])
    assert dropped > 0
    # every request's line was either written or counted; `close` adds its own line
    assert len(written) + dropped == QUEUE_LINES + extra + 1
    assert ("GET /x" in written[-1]) == (then == "a request")
