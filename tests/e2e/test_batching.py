"""Adaptive batching through a real `turnout serve`: concurrent invocations share predict
calls (seen in /metrics' turnout_batch_size), each keeps its own answer, and a bad request
inside a batch fails alone."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import Artifacts
from tests.support.models import digits_rows, train_digits
from tests.support.prometheus import samples
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Variant

pytestmark = pytest.mark.e2e

ENDPOINT = "batched"
CONCURRENT = 16


@pytest.fixture(scope="module")
def endpoint(client: Client, artifacts: Artifacts) -> str:
    # A long wait for company makes the batches certain on a loaded machine; batching's
    # timing (no added wait by default) is measured in bench/, not asserted here.
    environment = {"TURNOUT_MAX_BATCH_SIZE": "32", "TURNOUT_MAX_BATCH_DELAY_MS": "300"}
    client.create_model(f"{ENDPOINT}-model", str(artifacts.sklearn), environment=environment)
    client.create_endpoint_config(f"{ENDPOINT}-config", [Variant("A", f"{ENDPOINT}-model")])
    client.create_endpoint(ENDPOINT, f"{ENDPOINT}-config")
    client.wait_for_endpoint(ENDPOINT, timeout=120)
    return ENDPOINT


def batch_sizes(server: BackgroundServer) -> dict[str, float]:
    """turnout_batch_size of the endpoint: cumulative bucket counts by `le`, plus count/sum."""
    found: dict[str, float] = {}
    for sample in samples(server.url, "turnout_batch_size", ENDPOINT):
        if sample.name.endswith("_bucket"):
            found[sample.labels["le"]] = sample.value
        else:
            found[sample.name.rsplit("_", 1)[1]] = sample.value
    return found


def invoke_together(server: BackgroundServer, bodies: list[bytes]) -> list[httpx.Response]:
    url = f"{server.url}/endpoints/{ENDPOINT}/invocations"
    with (
        httpx.Client(timeout=60, limits=httpx.Limits(max_connections=len(bodies))) as http,
        ThreadPoolExecutor(len(bodies)) as pool,
    ):
        calls = [
            pool.submit(http.post, url, content=b, headers={"Content-Type": "application/json"})
            for b in bodies
        ]
        return [c.result() for c in calls]


def test_concurrent_invocations_share_predict_calls(server: BackgroundServer, endpoint: str):
    rows, _ = digits_rows(CONCURRENT)
    answers = invoke_together(server, [json.dumps([row]).encode() for row in rows])
    expected = train_digits().estimator.predict(np.array(rows)).tolist()
    assert [a.status_code for a in answers] == [200] * CONCURRENT
    assert [a.json()[0] for a in answers] == expected  # each its own answer, in order
    sizes = batch_sizes(server)
    assert sizes["sum"] == CONCURRENT  # every invocation was in exactly one batch
    assert sizes["count"] < CONCURRENT  # fewer predict calls than invocations
    assert sizes["1"] < sizes["count"]  # so some batches held more than one request


def test_a_bad_request_in_a_batch_fails_alone(server: BackgroundServer, endpoint: str):
    rows, _ = digits_rows(CONCURRENT)
    bodies: list[Any] = [[row] for row in rows]
    bodies[3] = [[math.nan] * 64]  # stacks with the others, then sklearn refuses the batch
    bodies[9] = [rows[9][:63]]  # 63 features: cannot stack with the rest at all
    before = batch_sizes(server)
    answers = invoke_together(server, [json.dumps(b).encode() for b in bodies])
    good = [i for i in range(CONCURRENT) if i not in (3, 9)]
    expected = train_digits().estimator.predict(np.array(rows)).tolist()
    assert [answers[i].status_code for i in good] == [200] * len(good)
    assert [answers[i].json()[0] for i in good] == [expected[i] for i in good]
    for bad, words in ((3, "NaN"), (9, "63 features")):
        error = answers[bad]
        assert error.status_code == 424, error.text  # SageMaker's ModelError
        assert error.json()["OriginalStatusCode"] == 400
        assert words in error.json()["OriginalMessage"]
    after = batch_sizes(server)
    # Only answers carry their batch's size: the good ones, still batched around the bad.
    assert after["sum"] - before["sum"] == len(good)
    assert after["count"] - before["count"] < len(good)


def test_describe_shows_each_variants_batching(client: Client, endpoint: str):
    (variant,) = client.describe_endpoint(ENDPOINT)["variants"]
    assert variant["model"] == f"{ENDPOINT}-model"
    assert variant["batching"] == {
        "max_batch_size": 32,
        "max_batch_delay_ms": 300.0,
        "applies": "yes",
    }
    assert client.describe_model(f"{ENDPOINT}-model")["batching"] == variant["batching"]


def test_bad_batching_values_are_refused_at_registration(
    client: Client, server: BackgroundServer, artifacts: Artifacts
):
    from turnout.client import TurnoutAPIError

    with pytest.raises(TurnoutAPIError, match="TURNOUT_MAX_BATCH_SIZE='0'"):
        client.create_model(
            "bad-batching", str(artifacts.sklearn), environment={"TURNOUT_MAX_BATCH_SIZE": "0"}
        )
    import boto3
    from botocore.exceptions import ClientError

    sagemaker = boto3.client(
        "sagemaker", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="y",
    )  # fmt: skip
    with pytest.raises(ClientError) as raised:
        sagemaker.create_model(
            ModelName="bad-batching",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
            PrimaryContainer={
                "ModelDataUrl": str(artifacts.sklearn),
                "Environment": {"TURNOUT_MAX_BATCH_DELAY_MS": "soon"},
            },
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "TURNOUT_MAX_BATCH_DELAY_MS='soon'" in raised.value.response["Error"]["Message"]
