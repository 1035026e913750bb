"""Inference pipelines end to end (ADR 0039), the issue's acceptance test: boto3 against a
real `turnout serve`; a scaler container (inference.py) then a LogisticRegression container
answer as scikit-learn's Pipeline of the same two fitted steps; a failing container is named
in the ModelError; each container's latency is in /metrics; CreateModel's validation."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from botocore.exceptions import ClientError, WaiterError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from tests.api.sagemaker.conftest import clients
from tests.support.pipelines import containers, csv, fit
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

ENDPOINT = "pipe"


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, np.ndarray[Any, Any]]:
    return fit()


@pytest.fixture(scope="module")
def boto(server: BackgroundServer) -> tuple[Any, Any]:
    return clients(server.url)


def _create_endpoint(sm: Any, name: str) -> None:
    """An endpoint (and its config) of one instance of model `name`, not waited for."""
    variant = {"VariantName": "A", "ModelName": name, "InitialInstanceCount": 1,
               "InstanceType": "ml.m5.large"}  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


@pytest.fixture(scope="module")
def endpoint(
    boto: tuple[Any, Any], fitted: tuple[Pipeline, Any], tmp_path_factory: pytest.TempPathFactory
) -> str:
    sm = boto[0]
    sm.create_model(
        ModelName=ENDPOINT,
        Containers=containers(tmp_path_factory.mktemp("pipeline"), fitted[0]),
        InferenceExecutionConfig={"Mode": "Serial"},
    )
    _create_endpoint(sm, ENDPOINT)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.25, "MaxAttempts": 480}
    )
    return ENDPOINT


def _invoke(rt: Any, body: bytes) -> Any:
    answer = rt.invoke_endpoint(
        EndpointName=ENDPOINT, Body=body, ContentType="text/csv", Accept="application/json"
    )
    return json.loads(answer["Body"].read())


def test_the_pipeline_predicts_as_sklearn_pipeline(
    boto: tuple[Any, Any], endpoint: str, fitted: tuple[Pipeline, Any]
) -> None:
    sm, rt = boto
    pipeline, rows = fitted
    described = sm.describe_model(ModelName=endpoint)
    assert [c["ContainerHostname"] for c in described["Containers"]] == ["scaler", "model"]
    assert described["InferenceExecutionConfig"] == {"Mode": "Serial"}
    assert "PrimaryContainer" not in described
    expected = pipeline.predict(rows).tolist()
    assert _invoke(rt, csv(rows)) == expected  # all rows in one request
    for i in range(0, 20, 5):  # and a few alone
        assert _invoke(rt, csv(rows[i : i + 1])) == expected[i : i + 1]
    # Without the scaler the model would answer otherwise: the rows went through both.
    assert pipeline.named_steps["model"].predict(rows).tolist() != expected


def test_a_failing_container_is_named_and_the_endpoint_keeps_serving(
    boto: tuple[Any, Any], endpoint: str, fitted: tuple[Pipeline, Any]
) -> None:
    rt = boto[1]
    rows = fitted[1]
    with pytest.raises(ClientError) as short:  # the scaler cannot broadcast 3 columns
        rt.invoke_endpoint(EndpointName=endpoint, Body=b"1,2,3", ContentType="text/csv")
    error = short.value.response["Error"]
    assert short.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["Code"] == "ModelError"
    assert "container 1 (scaler)" in error["Message"]
    with pytest.raises(ClientError) as nan:  # scaled NaN reaches LogisticRegression
        rt.invoke_endpoint(EndpointName=endpoint, Body=csv([[float("nan")] * 30]),
                           ContentType="text/csv")  # fmt: skip
    error = nan.value.response["Error"]
    assert error["Code"] == "ModelError"
    assert "container 2 (model)" in error["Message"]
    assert "container 1" not in error["Message"]
    assert _invoke(rt, csv(rows[:3])) == fitted[0].predict(rows[:3]).tolist()


def _container_counts(server: BackgroundServer, endpoint: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("turnout_pipeline_container_seconds_count{") and (
            f'endpoint="{endpoint}"' in line
        ):
            container = line.split('container="', 1)[1].split('"', 1)[0]
            counts[container] = float(line.rsplit(" ", 1)[1])
    return counts


def test_each_container_latency_is_in_metrics(
    boto: tuple[Any, Any], endpoint: str, fitted: tuple[Pipeline, Any], server: BackgroundServer
) -> None:
    before = _container_counts(server, endpoint)
    for i in range(3):
        _invoke(boto[1], csv(fitted[1][i : i + 1]))
    after = _container_counts(server, endpoint)
    assert set(after) == {"scaler", "model"}
    for container in ("scaler", "model"):
        assert after[container] - before.get(container, 0.0) == 3


def _refusal(sm: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as refused:
        sm.create_model(ModelName="refused", **params)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    message: str = refused.value.response["Error"]["Message"]
    return message


def test_create_model_validation(boto: tuple[Any, Any], tmp_path: Path) -> None:
    sm = boto[0]
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "model.joblib")
    one = {"ModelDataUrl": str(tmp_path)}
    sm.create_model(ModelName="single", Containers=[one])  # one container: a normal model
    described = sm.describe_model(ModelName="single")
    assert described["PrimaryContainer"]["ModelDataUrl"] == str(tmp_path)
    assert "Containers" not in described and "InferenceExecutionConfig" not in described
    assert "less than or equal to 15" in _refusal(sm, Containers=[one] * 16)
    assert "Direct is not supported" in _refusal(
        sm, Containers=[one, one], InferenceExecutionConfig={"Mode": "Direct"}
    )
    message = _refusal(sm, Containers=[one, one], InferenceExecutionConfig={"Mode": "Parallel"})
    assert "[Serial, Direct]" in message
    message = _refusal(sm, PrimaryContainer=one, InferenceExecutionConfig={"Mode": "Serial"})
    assert "2 or more" in message
    multi = {"ModelDataUrl": str(tmp_path), "Mode": "MultiModel"}
    assert "Containers.2.Mode" in _refusal(sm, Containers=[one, multi])
    assert "Containers.1.ModelDataUrl" in _refusal(sm, Containers=[{}, one])
    named = {**one, "ContainerHostname": "a"}
    assert "unique" in _refusal(sm, Containers=[named, named])
    sm.create_model(ModelName="fifteen", Containers=[one] * 15)
    assert len(sm.describe_model(ModelName="fifteen")["Containers"]) == 15


def test_a_container_that_cannot_be_fetched_is_named_in_the_failure(
    boto: tuple[Any, Any], tmp_path: Path
) -> None:
    sm = boto[0]
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "model.joblib")
    missing = tmp_path / "gone"
    steps = [{"ModelDataUrl": str(tmp_path)}, {"ModelDataUrl": str(missing)}]
    sm.create_model(ModelName="gone", Containers=steps)
    _create_endpoint(sm, "gone")
    with pytest.raises(WaiterError, match="terminal failure state"):
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName="gone", WaiterConfig={"Delay": 0.25, "MaxAttempts": 240}
        )
    reason = sm.describe_endpoint(EndpointName="gone")["FailureReason"]
    assert f"container 2: model artifact {missing} does not exist" in reason
