"""CSRF in a real browser (Playwright driving Debian's Chromium), ADR 0035.

The browser holds HTTP Basic credentials for a `turnout serve --credentials` (the person
signed in to the dashboard). A page from another origin — another port on 127.0.0.1 —
makes it POST an Open Inference Protocol inference to turnout with those credentials: the
server refuses it (403 AccessDeniedException) and the model never runs. The same POST from
turnout's own page (the dashboard's origin) goes through.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from tests.conftest import Artifacts
from tests.support.credentials import credentials_args
from tests.support.endpoints import VariantOf, deploy_endpoint
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Credentials

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.e2e

KEY, SECRET = "AKIACSRFBROWSER", "csrf-browser-secret"
ENDPOINT = "csrf-browser"
INFER = {
    "inputs": [
        {"name": "input-0", "shape": [1, 64], "datatype": "FP64", "data": digits_rows(1)[0][0]}
    ]
}
# What the other site's page does: a "simple" request (text/plain, no-cors) needs no CORS
# preflight, and credentials: "include" makes the browser add the ones it holds.
ATTACK = """<!doctype html><title>elsewhere</title><script>
window.attempt = fetch(%(url)s, {method: "POST", mode: "no-cors", credentials: "include",
  headers: {"Content-Type": "text/plain"}, body: %(body)s})
  .then(() => "sent", (e) => "failed: " + e);
</script>"""


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    return credentials_args(tmp_path_factory, KEY, SECRET)


@pytest.fixture(scope="module")
def endpoint(server: BackgroundServer, artifacts: Artifacts) -> str:
    with Client(server.url, timeout=30, credentials=Credentials(KEY, SECRET)) as client:
        deploy_endpoint(client, ENDPOINT, [VariantOf("A", artifacts.sklearn)])
    return f"{server.url}/v2/models/{ENDPOINT}/infer"


@pytest.fixture(scope="module")
def elsewhere(endpoint: str) -> Iterator[str]:
    """Another origin (127.0.0.1, another port) serving the attacking page; its URL."""
    page = ATTACK % {"url": json.dumps(endpoint), "body": json.dumps(json.dumps(INFER))}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/attack.html"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def signed_in(browser: BrowserContext) -> Iterator[BrowserContext]:
    """A browser that answers turnout's Basic challenge with the key pair, as a person who
    signed in to the dashboard has it do."""
    assert browser.browser is not None
    context = browser.browser.new_context(http_credentials={"username": KEY, "password": SECRET})
    try:
        yield context
    finally:
        context.close()


def test_another_origin_cannot_make_the_browser_write(
    signed_in: BrowserContext, server: BackgroundServer, endpoint: str, elsewhere: str
) -> None:
    page = signed_in.new_page()
    page.goto(server.url + "/")  # signed in: the dashboard shows
    assert page.title()

    # The dashboard's origin may write (what its own scripts would do).
    own = page.evaluate(
        """async ([url, body]) => {
            const answer = await fetch(url, {method: "POST", body,
                                             headers: {"Content-Type": "application/json"}});
            return [answer.status, await answer.text()];
        }""",
        [endpoint, json.dumps(INFER)],
    )
    assert own[0] == 200, own
    assert json.loads(own[1])["model_name"] == ENDPOINT

    with page.expect_response(lambda r: r.url == endpoint and r.request.method == "POST") as got:
        page.goto(elsewhere)
        assert page.evaluate("window.attempt") == "sent"  # the page cannot tell; the server can
    first = got.value
    # Refused before any sign-in challenge: with none (a 403, not a 401), the browser does
    # not retry the POST with the credentials it holds, which it does when asked (401).
    assert first.status == 403, (first.status, first.all_headers())
    assert first.request.all_headers()["origin"] == elsewhere.removesuffix("/attack.html")
    # (The page's answer is opaque, so its headers are not shown; a /v2 request without
    # credentials would be a 401, so a 403 here is the cross-site refusal.)
    page.close()
