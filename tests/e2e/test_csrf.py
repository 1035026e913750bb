"""Cross-site writes are refused (ADR 0035), on a real `turnout serve`.

With --credentials, the only writes a browser can authenticate are those HTTP Basic opens:
the Open Inference Protocol's POST /v2/models/{name}/infer. A browser sends them from
another site's page with the credentials it cached for turnout; the browser says so in
Sec-Fetch-Site, or Origin/Referer name another host: 403 AccessDeniedException. The same
request from turnout's own origin, or from a client that is not a browser (no such
headers), or SigV4-signed, goes through. Without credentials, the loopback is the authority
and the REST API takes writes from anyone: a cross-site page is refused there too.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Artifacts
from tests.support.credentials import credentials_args
from tests.support.endpoints import VariantOf, deploy_endpoint
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Credentials

pytestmark = pytest.mark.e2e

KEY, SECRET = "AKIACSRFTEST", "csrf-test-secret"
ENDPOINT = "csrf"
EVIL = "http://127.0.0.1:1"  # another origin: same host, another port
ROW = digits_rows(1)[0][0]
INFER = {"inputs": [{"name": "input-0", "shape": [1, 64], "datatype": "FP64", "data": ROW}]}


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    return credentials_args(tmp_path_factory, KEY, SECRET)


@pytest.fixture(scope="module")
def signed(server: BackgroundServer, artifacts: Artifacts) -> Iterator[Client]:
    with Client(server.url, timeout=30, credentials=Credentials(KEY, SECRET)) as client:
        deploy_endpoint(client, ENDPOINT, [VariantOf("A", artifacts.sklearn)])
        yield client


def infer(server: BackgroundServer, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v2/models/{ENDPOINT}/infer",
        json=INFER,
        headers=headers,
        auth=(KEY, SECRET),
        timeout=30,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": EVIL},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another site's page too
        {"Origin": EVIL},  # an older browser: no Sec-Fetch-*
        {"Origin": "null"},  # a sandboxed iframe, a file:// page
        {"Referer": f"{EVIL}/attack.html"},  # no Origin either
    ],
)
def test_a_cross_site_write_with_basic_credentials_is_refused(
    server: BackgroundServer, signed: Client, headers: dict[str, str]
) -> None:
    answer = infer(server, headers)
    assert answer.status_code == 403, answer.text
    assert answer.headers["x-amzn-errortype"] == "AccessDeniedException"
    message = answer.json()["message"]
    assert message.startswith("Cross-site request refused: ")
    assert f"127.0.0.1:{server.port}" in message


def test_same_origin_and_non_browser_writes_go_through(
    server: BackgroundServer, signed: Client
) -> None:
    here = server.url
    for headers in (
        {"Sec-Fetch-Site": "same-origin", "Origin": here},  # the dashboard's own page
        {"Sec-Fetch-Site": "none"},  # typed by the user
        {"Origin": here},
        {"Referer": f"{here}/dashboard/endpoints/{ENDPOINT}"},
        {},  # curl, tritonclient: no browser headers
    ):
        answer = infer(server, headers)
        assert answer.status_code == 200, (headers, answer.text)
        assert answer.json()["model_name"] == ENDPOINT
    # Reads are never refused, whatever the page: they change nothing.
    page = httpx.get(
        f"{here}/dashboard/api/overview",
        auth=(KEY, SECRET),
        headers={"Sec-Fetch-Site": "cross-site", "Origin": EVIL},
    )
    assert page.status_code == 200


def test_the_signed_python_client_still_writes(
    server: BackgroundServer, signed: Client, artifacts: Artifacts
) -> None:
    signed.create_model("csrf-other", str(artifacts.sklearn))
    assert signed.describe_model("csrf-other")["name"] == "csrf-other"
    signed.delete_model("csrf-other")


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """A second server, without credentials (the default on the loopback)."""
    with BackgroundServer(tmp_path_factory.mktemp("open")) as background:
        yield background


def test_without_credentials_a_cross_site_write_is_refused_too(
    open_server: BackgroundServer, artifacts: Artifacts
) -> None:
    url = f"{open_server.url}/api/v1/models"
    model = {"name": "planted", "artifact": str(artifacts.sklearn)}
    # A page on any site could otherwise POST here (text/plain needs no CORS preflight).
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": EVIL}):
        answer = httpx.post(url, json=model, headers=headers)
        assert answer.status_code == 403, answer.text
        assert answer.json()["__type"] == "AccessDeniedException"
    assert httpx.get(f"{url}/planted").status_code == 404  # nothing was written
    with Client(open_server.url) as client:  # the Python client sends no Origin
        client.create_model("planted", str(artifacts.sklearn))
    same_origin = httpx.delete(f"{url}/planted", headers={"Origin": open_server.url})
    assert same_origin.status_code == 204
