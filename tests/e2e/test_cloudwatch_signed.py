"""`turnout serve --credentials FILE`: CloudWatch calls signed for the `monitoring` service
with a known key pass in every protocol; a wrong secret is refused (403)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.cloudwatch import PROTOCOLS, cloudwatch
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

KEY, SECRET = "AKIATURNOUTCW", "turnout-cloudwatch-secret"


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    path = tmp_path_factory.mktemp("auth") / "credentials"
    path.write_text(f"[cw]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")
    return ("--credentials", str(path))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_signed_calls_pass_and_a_wrong_secret_is_refused(
    server: BackgroundServer, tmp_path: Path, protocol: str
) -> None:
    good = cloudwatch(server.url, protocol, tmp_path, KEY, SECRET)
    assert good.describe_alarms()["MetricAlarms"] == []
    assert good.list_metrics(Namespace="AWS/SageMaker")["Metrics"] == []
    bad: Any = cloudwatch(server.url, protocol, tmp_path, KEY, "not-the-secret")
    with pytest.raises(ClientError) as raised:
        bad.describe_alarms()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
