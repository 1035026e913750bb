"""`turnout serve --credentials FILE`: right signatures pass, wrong ones are refused (403)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from turnout.cli.background import BackgroundServer, free_port

from .conftest import ACCESS_KEY, SECRET_KEY, Tarballs, clients
from .test_lifecycle import FAST, variant

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    path = tmp_path_factory.mktemp("auth") / "credentials"
    path.write_text(
        f"[tests]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    return ("--credentials", str(path))


def refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return dict(raised.value.response["Error"])


def test_the_right_key_passes_everywhere(server: BackgroundServer, tarballs: Tarballs) -> None:
    sm, rt = clients(server.url)
    sm.create_model(ModelName="signed", PrimaryContainer={"ModelDataUrl": tarballs.url("sklearn")})
    sm.create_endpoint_config(
        EndpointConfigName="signed", ProductionVariants=[variant("A", "signed", 1)]
    )
    sm.create_endpoint(EndpointName="signed", EndpointConfigName="signed")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="signed", WaiterConfig=FAST)
    answer = rt.invoke_endpoint(
        EndpointName="signed", ContentType="application/json", Body="[" + ",".join(["0"] * 64) + "]"
    )
    assert answer["InvokedProductionVariant"] == "A"


def test_a_wrong_secret_is_refused(server: BackgroundServer) -> None:
    sm, rt = clients(server.url, secret="not-the-secret")
    error = refused(sm.list_models)
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith("The request signature we calculated does not match")
    assert refused(rt.invoke_endpoint, EndpointName="signed", Body=b"[1]")["Code"] == (
        "InvalidSignatureException"
    )


def test_an_unknown_key_is_refused(server: BackgroundServer) -> None:
    sm, _ = clients(server.url, key="AKIAUNKNOWN")
    assert refused(sm.list_endpoints) == {
        "Code": "UnrecognizedClientException",
        "Message": "The security token included in the request is invalid.",
    }


def test_unsigned_requests_are_refused_but_health_stays_open(server: BackgroundServer) -> None:
    answer = httpx.post(server.url + "/", content=b"{}",
                        headers={"X-Amz-Target": "SageMaker.ListModels"})  # fmt: skip
    assert answer.status_code == 403
    assert answer.json()["__type"] == "MissingAuthenticationTokenException"
    assert httpx.get(server.url + "/api/v1/models").status_code == 403
    # Prometheus cannot sign: /metrics asks for HTTP Basic (a key id and its secret) instead.
    assert httpx.get(server.url + "/metrics").status_code == 401
    assert httpx.get(server.url + "/api/v1/health").status_code == 200


def test_a_public_address_without_credentials_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "serve", "--host", "0.0.0.0",
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode != 0
    assert "refusing to listen on 0.0.0.0 without credentials" in done.stderr
    assert "--insecure" in done.stderr
