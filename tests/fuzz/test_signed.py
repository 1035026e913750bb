"""The SageMaker and CloudWatch facades fuzzed with every request SigV4-signed, on a server
that has credentials: the signature check comes first, then the same verdicts as unsigned."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fuzz.facades import fuzz_aws_json
from turnout.api.cloudwatch.servicemodel import cloudwatch
from turnout.api.sagemaker.servicemodel import sagemaker
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

ACCESS_KEY, SECRET_KEY = "AKIATURNOUTFUZZ", "turnout-fuzz-secret"
OPERATIONS = ("CreateModel", "DescribeModel", "ListModels", "DeleteModel", "ListEndpoints")


class SigV4(httpx.Auth):
    """Signs each request as botocore does (the headers an AWS client signs)."""

    requires_request_body = True

    def __init__(self, service: str) -> None:
        self._signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, "us-east-1")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        signed = {k: v for k, v in request.headers.items() if k in ("content-type", "x-amz-target")}
        aws = AWSRequest(request.method, str(request.url), signed, request.content)
        self._signer.add_auth(aws)
        for name in ("Authorization", "X-Amz-Date"):
            request.headers[name] = aws.headers[name]
        yield request


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    path = tmp_path_factory.mktemp("auth") / "credentials"
    path.write_text(
        f"[fuzz]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    return ("--credentials", str(path), "--s3-endpoint-url", "http://127.0.0.1:9")


@pytest.fixture
def signed(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def test_the_sagemaker_facade_signed(signed: httpx.Client) -> None:
    signed.auth = SigV4("sagemaker")
    report = fuzz_aws_json(signed, sagemaker(), OPERATIONS)
    print(report)
    assert not report.findings, str(report)
    target = {"X-Amz-Target": "SageMaker.ListModels"}
    assert signed.post("/", headers=target, content=b"{}").status_code == 200  # signed right
    unsigned = httpx.post(f"{signed.base_url}", headers=target)
    assert unsigned.status_code in (400, 403), unsigned.text  # the check is on


def test_cloudwatch_signed(signed: httpx.Client) -> None:
    signed.auth = SigV4("monitoring")
    model = cloudwatch()
    report = fuzz_aws_json(signed, model, model.operations, version="1.0")
    print(report)
    assert not report.findings, str(report)
