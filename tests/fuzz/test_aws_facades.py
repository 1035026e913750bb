"""Fuzzing a real `turnout serve` over its AWS wire protocols, driven by botocore's service
models: the SageMaker facade (AWS JSON 1.1), the runtime's InvokeEndpoint, CloudWatch
(AWS JSON 1.0), CloudWatch Logs and Application Auto Scaling (AWS JSON 1.1). Every answer
must be a documented status in the service's error shape, never a 5xx; the server keeps
serving.

TURNOUT_FUZZ_EXAMPLES sets the cases per operation (docs/testing.md: the long mode).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Artifacts, Deploy
from tests.fuzz.facades import fuzz_aws_json, fuzz_runtime
from tests.fuzz.query import fuzz_query
from tests.support.endpoints import VariantOf
from tests.support.models import digits_rows
from turnout.api.autoscaling.facade import service_model as autoscaling_model
from turnout.api.cloudwatch.servicemodel import cloudwatch
from turnout.api.logs.facade import service_model as logs_model
from turnout.api.sagemaker.servicemodel import OPERATIONS, sagemaker
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

# A name no generator makes, so that no fuzzed Delete*/Update* reaches it.
ENDPOINT = "fuzz-target-7f3a9c"
ROWS, LABELS = digits_rows(2)
# Their success would start or replace model processes: only ever sent invalid.
GUARDED = ("CreateEndpoint", "UpdateEndpoint", "CreateInferenceExperiment")


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    # s3:// artifacts the fuzzer names fail at once (nothing listens on port 9), offline.
    return ("--s3-endpoint-url", "http://127.0.0.1:9")


@pytest.fixture(scope="module")
def http(server: BackgroundServer, deploy: Deploy, artifacts: Artifacts) -> Iterator[httpx.Client]:
    deploy(ENDPOINT, [VariantOf("A", artifacts.sklearn)])
    with httpx.Client(base_url=server.url, timeout=30) as session:
        yield session


@pytest.fixture(autouse=True)
def still_serves(http: httpx.Client) -> Iterator[None]:
    """After each fuzz run: a normal InvokeEndpoint and ListEndpoints still answer."""
    yield
    answer = http.post(f"/endpoints/{ENDPOINT}/invocations", json=ROWS)
    assert answer.status_code == 200 and answer.json() == LABELS, answer.text
    listed = http.post("/", headers={"X-Amz-Target": "SageMaker.ListEndpoints"}, content=b"{}")
    assert listed.status_code == 200, listed.text
    assert ENDPOINT in {e["EndpointName"] for e in listed.json()["Endpoints"]}


def test_the_sagemaker_facade(http: httpx.Client) -> None:
    report = fuzz_aws_json(http, sagemaker(), OPERATIONS, guarded=GUARDED)
    print(report)
    assert not report.findings, str(report)


def test_the_runtime(http: httpx.Client) -> None:
    report = fuzz_runtime(http, ENDPOINT, "A", json.dumps(ROWS).encode())
    print(report)
    assert not report.findings, str(report)


def test_cloudwatch_json(http: httpx.Client) -> None:
    model = cloudwatch()
    report = fuzz_aws_json(http, model, model.operations, version="1.0")
    print(report)
    assert not report.findings, str(report)


def test_cloudwatch_query(http: httpx.Client) -> None:
    report = fuzz_query(http)
    print(report)
    assert not report.findings, str(report)


def test_application_autoscaling(http: httpx.Client) -> None:
    model = autoscaling_model()
    report = fuzz_aws_json(http, model, model.operations)
    print(report)
    assert not report.findings, str(report)


def test_cloudwatch_logs(http: httpx.Client) -> None:
    model = logs_model()
    report = fuzz_aws_json(http, model, model.operations)
    print(report)
    assert not report.findings, str(report)


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("GraniteServiceVersion20100801.DescribeAlarms", {"MaxRecords": None, "NextToken": ""}),
        ("GraniteServiceVersion20100801.DescribeAlarmHistory", {"MaxRecords": None}),
        ("SageMaker.ListModels", {"MaxResults": None, "SortBy": None}),
    ],
)
def test_a_null_member_reads_as_absent(
    http: httpx.Client, target: str, body: dict[str, Any]
) -> None:
    """Found by the fuzzer: `"MaxRecords": null` reached the handler as None (a 500)."""
    version = "1.0" if target.startswith("Granite") else "1.1"
    headers = {"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"}
    answer = http.post("/", headers=headers, content=json.dumps(body))
    assert answer.status_code == 200, answer.text
