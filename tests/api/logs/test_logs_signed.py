"""The Logs facade behind `turnout serve --credentials`: boto3 signs for service `logs`,
and turnout's SigV4 check takes it like any other; a wrong secret is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.sagemaker.conftest import ACCESS_KEY, CONFIG, REGION, SECRET_KEY
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    path: Path = tmp_path_factory.mktemp("auth") / "credentials"
    path.write_text(
        f"[tests]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    return ("--credentials", str(path))


def logs_client(url: str, secret: str) -> Any:
    return boto3.client("logs", endpoint_url=url, region_name=REGION, config=CONFIG,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret)  # fmt: skip


def test_a_signed_logs_call_reaches_the_facade(server: BackgroundServer) -> None:
    logs = logs_client(server.url, SECRET_KEY)
    assert logs.describe_log_groups()["logGroups"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/none")


def test_a_wrong_secret_is_refused(server: BackgroundServer) -> None:
    with pytest.raises(ClientError) as caught:
        logs_client(server.url, "wrong").describe_log_groups()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
