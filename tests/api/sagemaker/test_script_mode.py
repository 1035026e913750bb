"""SageMaker script mode end to end: what `SKLearnModel(entry_point=..., source_dir=...)`
creates — a model.tar.gz without code/ and a sourcedir.tar.gz on S3 named by
SAGEMAKER_SUBMIT_DIRECTORY — served by a real `turnout serve` through boto3."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import WaiterError

from tests.support.models import digits_rows, make_sklearn_model, make_source_dir, make_tarball

from .test_lifecycle import FAST, variant

pytestmark = pytest.mark.e2e

BUCKET = "sagemaker-us-east-1-123456789012"  # the SDK's default bucket's form
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture(scope="module")
def server_args(s3_server_args: tuple[str, ...]) -> tuple[str, ...]:
    return s3_server_args


@pytest.fixture(scope="module")
def uploaded(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """s3:// URLs of a model.tar.gz holding model.joblib only, and of a sourcedir.tar.gz."""
    root = tmp_path_factory.mktemp("script-mode")
    model = make_tarball(make_sklearn_model(root / "model"), root / "model.tar.gz")
    source = make_tarball(make_source_dir(root / "src"), root / "sourcedir.tar.gz")
    (root / "junk.tar.gz").write_bytes(b"this is not a tarball")
    s3 = boto3.client("s3", endpoint_url=store_url, region_name="us-east-1",
                      aws_access_key_id="moto", aws_secret_access_key="moto")  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    urls = {}
    for name, path in (("model", model), ("source", source), ("junk", root / "junk.tar.gz")):
        key = f"job/{name}/{Path(path).name}"
        s3.upload_file(str(path), BUCKET, key)
        urls[name] = f"s3://{BUCKET}/{key}"
    return urls


def deploy(sm: Any, name: str, model_url: str, source_url: str, program: str) -> dict[str, Any]:
    """CreateModel/EndpointConfig/Endpoint as the SDK's deploy() sends them; the endpoint
    once it is no longer Creating."""
    environment = {
        "SAGEMAKER_PROGRAM": program,
        "SAGEMAKER_SUBMIT_DIRECTORY": source_url,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": "us-east-1",
    }
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_url, "Environment": environment},
    )
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant("A", name, 1)])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    with contextlib.suppress(WaiterError):  # the failing cases: their reason is asserted
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
    described: dict[str, Any] = sm.describe_endpoint(EndpointName=name)
    return described


def test_the_submitted_entry_point_serves_the_model(sm: Any, rt: Any, uploaded: dict) -> None:
    described = deploy(sm, "script-mode", uploaded["model"], uploaded["source"], "inference.py")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    rows, labels = digits_rows(3)
    answer = rt.invoke_endpoint(
        EndpointName="script-mode", ContentType="application/json", Body=json.dumps(rows)
    )
    assert answer["ContentType"] == "application/json"
    assert json.loads(answer["Body"].read()) == labels


@pytest.mark.parametrize(
    ("case", "source", "program", "reason"),
    [
        ("missing", "s3://" + BUCKET + "/job/absent/sourcedir.tar.gz", "inference.py",
         'Failed to download the source directory (SAGEMAKER_SUBMIT_DIRECTORY) from URL: '
         '"s3://' + BUCKET + '/job/absent/sourcedir.tar.gz". Please ensure that there is an '
         "object located at the URL"),
        ("junk", "junk", "inference.py",
         "SAGEMAKER_SUBMIT_DIRECTORY s3://" + BUCKET + "/job/junk/junk.tar.gz is neither a "
         "directory nor a .tar.gz archive"),
        ("no-entry", "source", "serve.py",
         "SAGEMAKER_PROGRAM names serve.py, which is not at the root of "
         "SAGEMAKER_SUBMIT_DIRECTORY s3://" + BUCKET + "/job/source/sourcedir.tar.gz: set "
         "SAGEMAKER_PROGRAM to the entry point's path inside it"),
    ],
)  # fmt: skip
def test_a_bad_submit_directory_fails_the_endpoint_saying_what_to_fix(
    sm: Any, uploaded: dict, case: str, source: str, program: str, reason: str
) -> None:
    url = uploaded.get(source, source)
    described = deploy(sm, f"bad-{case}", uploaded["model"], url, program)
    assert described["EndpointStatus"] == "Failed"
    assert reason in described["FailureReason"]
