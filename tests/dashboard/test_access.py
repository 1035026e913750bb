"""The dashboard and /metrics of a server started with --credentials: HTTP Basic with a key
pair (browsers and Prometheus cannot sign SigV4)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

KEY, SECRET = "AKIADASHBOARD", "dashboard-secret"


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    path = tmp_path_factory.mktemp("auth") / "credentials"
    path.write_text(f"[d]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")
    return ("--credentials", str(path))


@pytest.mark.parametrize(
    "path", ["/", "/dashboard/api/overview", "/dashboard/static/common.js", "/metrics"]
)
def test_pages_ask_a_browser_to_sign_in(server: BackgroundServer, path: str) -> None:
    answer = httpx.get(server.url + path)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Basic realm="turnout"')
    wrong = httpx.get(server.url + path, auth=(KEY, "not-the-secret"))
    assert wrong.status_code == 401
    unknown = httpx.get(server.url + path, auth=("AKIANOBODY", SECRET))
    assert unknown.status_code == 401
    assert httpx.get(server.url + path, auth=(KEY, SECRET)).status_code == 200


def test_basic_auth_opens_only_the_dashboard(server: BackgroundServer, tmp_path: Path) -> None:
    # The native API and the SageMaker facade still need a SigV4 signature.
    answer = httpx.get(server.url + "/api/v1/endpoints", auth=(KEY, SECRET))
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "IncompleteSignatureException"
    posted = httpx.post(server.url + "/dashboard/api/overview", auth=(KEY, SECRET))
    assert posted.status_code == 403  # not a page: only GET/HEAD are the dashboard's
