"""s3:// model artifacts, fetched through boto3 from an S3-compatible store (moto's server)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import WaiterError

from tests.support.models import digits_rows

from .conftest import Tarballs
from .test_lifecycle import FAST, variant

pytestmark = pytest.mark.e2e

BUCKET = "turnout-models"


@pytest.fixture(scope="module")
def server_args(s3_server_args: tuple[str, ...]) -> tuple[str, ...]:
    return s3_server_args


def test_an_s3_artifact_is_fetched_and_served(
    store_url: str, sm: Any, rt: Any, tarballs: Tarballs
) -> None:
    s3 = boto3.client("s3", endpoint_url=store_url, region_name="us-east-1",
                      aws_access_key_id="moto", aws_secret_access_key="moto")  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(tarballs.path("sklearn")), BUCKET, "digits/model.tar.gz")
    url = f"s3://{BUCKET}/digits/model.tar.gz"
    sm.create_model(ModelName="from-s3", PrimaryContainer={"Image": "turnout/sklearn",
                                                           "ModelDataUrl": url})  # fmt: skip
    assert sm.describe_model(ModelName="from-s3")["PrimaryContainer"]["ModelDataUrl"] == url
    sm.create_endpoint_config(
        EndpointConfigName="from-s3", ProductionVariants=[variant("A", "from-s3", 1)]
    )
    sm.create_endpoint(EndpointName="from-s3", EndpointConfigName="from-s3")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="from-s3", WaiterConfig=FAST)
    rows, labels = digits_rows(3)
    answer = rt.invoke_endpoint(
        EndpointName="from-s3", ContentType="application/json", Body=json.dumps(rows)
    )
    assert json.loads(answer["Body"].read()) == labels


def test_a_missing_object_fails_the_endpoint_with_the_reason(sm: Any) -> None:
    url = f"s3://{BUCKET}/absent/model.tar.gz"
    sm.create_model(ModelName="absent", PrimaryContainer={"ModelDataUrl": url})
    sm.create_endpoint_config(
        EndpointConfigName="absent", ProductionVariants=[variant("A", "absent", 1)]
    )
    sm.create_endpoint(EndpointName="absent", EndpointConfigName="absent")
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="absent", WaiterConfig=FAST)
    described = sm.describe_endpoint(EndpointName="absent")
    assert described["EndpointStatus"] == "Failed"
    assert f'Failed to download model data from URL: "{url}"' in described["FailureReason"]
    assert "404" in described["FailureReason"]
