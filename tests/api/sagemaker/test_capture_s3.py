"""Data capture to s3:// (moto's S3-compatible server): files are uploaded when they close,
here when `turnout serve` stops gracefully, under <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest

from tests.support.capture import check_record
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer

from .conftest import Tarballs, clients
from .test_lifecycle import FAST, variant

pytestmark = pytest.mark.e2e

BUCKET = "turnout-capture"
KEY = re.compile(r"captured/cap-s3/A/\d{4}/\d\d/\d\d/\d\d/\d\d-\d\d-\d{3}-[0-9a-f-]{36}\.jsonl")


def test_captured_files_are_uploaded_to_the_bucket(
    store_url: str, tarballs: Tarballs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = boto3.client("s3", endpoint_url=store_url, region_name="us-east-1",
                      aws_access_key_id="moto", aws_secret_access_key="moto")  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("TURNOUT_S3_ACCESS_KEY_ID", "moto")  # inherited by `turnout serve`
    monkeypatch.setenv("TURNOUT_S3_SECRET_ACCESS_KEY", "moto")
    rows, labels = digits_rows(1)
    sent = [f"s3-{i}" for i in range(20)]
    server = BackgroundServer(tmp_path / "serve", extra_args=("--s3-endpoint-url", store_url))
    with server:
        sm, rt = clients(server.url)
        model = {"ModelDataUrl": tarballs.url("sklearn")}
        sm.create_model(ModelName="cap-s3", PrimaryContainer=model)
        sm.create_endpoint_config(
            EndpointConfigName="cap-s3",
            ProductionVariants=[variant("A", "cap-s3", 1)],
            DataCaptureConfig={
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{BUCKET}/captured",
                "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
                "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
            },
        )
        sm.create_endpoint(EndpointName="cap-s3", EndpointConfigName="cap-s3")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="cap-s3", WaiterConfig=FAST)
        for inference_id in sent:
            answer = rt.invoke_endpoint(
                EndpointName="cap-s3",
                ContentType="application/json",
                Body=json.dumps(rows),
                InferenceId=inference_id,
            )
            assert json.loads(answer["Body"].read()) == labels
        assert server.stop() == 0  # graceful: the writer closes its files, which uploads them

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys and all(KEY.fullmatch(key) for key in keys), keys
    records = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()
    ]
    for record in records:
        check_record(record)
    assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == sorted(sent)
    assert not list((tmp_path / "serve" / "capture-staging").rglob("*.jsonl"))
