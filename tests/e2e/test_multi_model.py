"""Multi-model endpoints end to end (ADR 0037), the issue's acceptance test: boto3 against a
real `turnout serve`, 1,000 tiny scikit-learn models in a moto-served bucket, two instances
under a small memory budget each; plus the SageMaker-shaped errors."""

from __future__ import annotations

import datetime
import json
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil
import pytest
from botocore.exceptions import ClientError

from tests.api.sagemaker.conftest import clients, store_url
from tests.support.cloudwatch import PROTOCOLS, cloudwatch
from tests.support.models import make_sklearn_model
from tests.support.multi_model import deploy, model_tarball, name_of, publish
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

__all__ = ["store_url"]  # a fixture, imported to be found here
BUCKET = "turnout-mme"
MODELS = 1000
BUDGET_MB = 0.1  # per instance: far below 1,000 models, so eviction must happen
SLACK_MB = 40  # per instance: allocator arenas, fragmentation, the unpacked cache's inodes


@pytest.fixture(scope="module")
def server_args(store_url: str) -> Iterator[tuple[str, ...]]:
    with pytest.MonkeyPatch.context() as env:  # inherited by `turnout serve` and its instances
        env.setenv("TURNOUT_S3_ACCESS_KEY_ID", "moto")
        env.setenv("TURNOUT_S3_SECRET_ACCESS_KEY", "moto")
        env.setenv("TURNOUT_MODEL_CACHE_MB", str(BUDGET_MB))
        yield ("--s3-endpoint-url", store_url)


@pytest.fixture(scope="module")
def s3(store_url: str) -> Any:
    client = boto3.client("s3", endpoint_url=store_url, region_name="us-east-1",
                          aws_access_key_id="moto", aws_secret_access_key="moto")  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    publish(lambda name, data: client.put_object(Bucket=BUCKET, Key=f"mme/{name}", Body=data),
            MODELS)  # fmt: skip
    client.put_object(Bucket=BUCKET, Key="mme/broken.tar.gz", Body=b"not a tarball")
    return client


@pytest.fixture(scope="module")
def boto(server: BackgroundServer) -> tuple[Any, Any]:
    return clients(server.url)


@pytest.fixture(scope="module")
def mme(boto: tuple[Any, Any], s3: Any) -> str:
    container = {"ModelDataUrl": f"s3://{BUCKET}/mme/", "Mode": "MultiModel",
                 "MultiModelConfig": {"ModelCacheSetting": "Enabled"}}  # fmt: skip
    deploy(boto[0], "mme", container, instances=2)
    return "mme"


def invoke(rt: Any, endpoint: str, target: str) -> tuple[float, str]:
    """(the model's answer, the cache-hit header) for one row."""
    answer = rt.invoke_endpoint(
        EndpointName=endpoint, TargetModel=target, Body=b"1.0", ContentType="text/csv",
        Accept="application/json",
    )  # fmt: skip
    hit = answer["ResponseMetadata"]["HTTPHeaders"].get("x-turnout-model-cache-hit", "")
    return float(json.loads(answer["Body"].read())[0]), hit


def instance_rss(server: BackgroundServer) -> dict[int, int]:
    assert server.process is not None
    found = {}
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if "turnout.instances.worker" in " ".join(child.cmdline()) and "--multi-model" in (
                child.cmdline()
            ):
                found[child.pid] = child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_thousand_models_answer_each_its_own_within_the_memory_budget(
    boto: tuple[Any, Any], mme: str, server: BackgroundServer
) -> None:
    sm, rt = boto
    container = sm.describe_model(ModelName=mme)["PrimaryContainer"]
    assert container["Mode"] == "MultiModel"
    assert container["MultiModelConfig"] == {"ModelCacheSetting": "Enabled"}
    # Warm both instances (the first model loads scikit-learn itself), then the baseline.
    for i in range(16):
        assert invoke(rt, mme, name_of(i))[0] == float(i)
    baseline = instance_rss(server)
    assert len(baseline) == 2

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: invoke(rt, mme, name_of(i))[0], range(MODELS)))
    assert answers == [float(i) for i in range(MODELS)]  # each from its own model

    after = instance_rss(server)
    assert after.keys() == baseline.keys()  # no instance died (and restarted) on the way
    budget = int(BUDGET_MB * 1024 * 1024)
    for pid, rss in after.items():
        assert rss <= baseline[pid] + budget + SLACK_MB * 1024 * 1024, (pid, baseline, after)

    # The first model was evicted long ago; loaded again, it stays where it was loaded:
    # the following calls are hits (on whichever instance, the same one each time).
    assert invoke(rt, mme, name_of(0)) == (0.0, "0")
    assert [invoke(rt, mme, name_of(0)) for _ in range(4)] == [(0.0, "1")] * 4
    loaded = prometheus_value(server, "turnout_loaded_model_count", mme)
    print(f"loaded models after the run: {loaded:g}; RSS {baseline} -> {after}")
    assert 2 <= loaded < MODELS / 2  # evictions happened


def prometheus_value(server: BackgroundServer, family: str, endpoint: str) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(family) and f'endpoint="{endpoint}"' in line
    ]
    assert values, f"no {family} for {endpoint} in /metrics"
    return sum(values)


def test_concurrent_first_calls_load_a_model_once(
    boto: tuple[Any, Any], mme: str, s3: Any, server: BackgroundServer
) -> None:
    rt = boto[1]
    s3.put_object(Bucket=BUCKET, Key="mme/shared/model.tar.gz", Body=model_tarball(-1.0))
    invoke(rt, mme, name_of(1))  # the endpoint's metrics exist
    loads = prometheus_value(server, "turnout_model_loading_seconds_count", mme)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: invoke(rt, mme, "shared/model.tar.gz"), range(8)))
    assert [value for value, _ in results] == [-1.0] * 8
    assert prometheus_value(server, "turnout_model_loading_seconds_count", mme) == loads + 1


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("../m0000.tar.gz", "must not step out"),
        ("/etc/passwd", "relative"),
        ("x" * 1025, "longer than 1024"),
        ("absent.tar.gz", "Failed to download model data"),
    ],
)
def test_bad_target_models_are_validation_errors(
    boto: tuple[Any, Any], mme: str, target: str, words: str
) -> None:
    with pytest.raises(ClientError) as raised:
        invoke(boto[1], mme, target)
    error = raised.value.response
    assert error["Error"]["Code"] == "ValidationError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert words in error["Error"]["Message"]


def test_a_model_that_does_not_load_is_a_model_error(boto: tuple[Any, Any], mme: str) -> None:
    with pytest.raises(ClientError) as raised:
        invoke(boto[1], mme, "broken.tar.gz")
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "broken.tar.gz failed to load" in error["Error"]["Message"]
    assert invoke(boto[1], mme, name_of(3))[0] == 3.0  # the instance still serves


def test_target_model_is_required_on_a_multi_model_endpoint_and_refused_elsewhere(
    boto: tuple[Any, Any], mme: str, tmp_path: Path
) -> None:
    sm, rt = boto
    with pytest.raises(ClientError) as raised:
        rt.invoke_endpoint(EndpointName=mme, Body=b"1.0", ContentType="text/csv")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "TargetModel" in raised.value.response["Error"]["Message"]
    deploy(sm, "single", {"ModelDataUrl": make_sklearn_model(tmp_path / "single").as_uri()})
    assert sm.describe_model(ModelName="single")["PrimaryContainer"]["Mode"] == "SingleModel"
    with pytest.raises(ClientError) as raised:
        invoke(rt, "single", name_of(1))
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "not a multi-model endpoint" in raised.value.response["Error"]["Message"]


def test_create_model_refuses_what_it_cannot_serve(boto: tuple[Any, Any]) -> None:
    sm = boto[0]
    cases = [
        ({"ModelDataUrl": f"s3://{BUCKET}/mme/", "Mode": "Many"}, "enum value set"),
        ({"Mode": "MultiModel"}, "s3:// prefix"),
        ({"ModelDataUrl": "/tmp/m.tar.gz", "MultiModelConfig": {"ModelCacheSetting": "Enabled"}},
         "needs Mode MultiModel"),
    ]  # fmt: skip
    for container, words in cases:
        with pytest.raises(ClientError) as raised:
            sm.create_model(ModelName="refused", PrimaryContainer=container)
        assert raised.value.response["Error"]["Code"] in ("ValidationError", "ValidationException")
        assert words in raised.value.response["Error"]["Message"], container


def test_the_native_api_creates_and_shows_a_multi_model_model(
    server: BackgroundServer, tmp_path: Path
) -> None:
    (tmp_path / "m.tar.gz").write_bytes(model_tarball(1.0))
    body = {"name": "native-mme", "artifact": str(tmp_path), "mode": "multi_model"}
    created = httpx.post(f"{server.url}/api/v1/models", json=body, timeout=30)
    assert created.status_code == 201, created.text
    assert created.json()["mode"] == "multi_model"
    refused = httpx.post(
        f"{server.url}/api/v1/models",
        json={**body, "name": "native-file", "artifact": str(tmp_path / "m.tar.gz")},
        timeout=30,
    )
    assert refused.status_code == 400 and "is not a directory" in refused.json()["error"]["message"]


def test_cloudwatch_has_sagemakers_multi_model_metrics(
    boto: tuple[Any, Any], mme: str, server: BackgroundServer, tmp_path: Path
) -> None:
    rt = boto[1]
    invoke(rt, mme, name_of(7))
    invoke(rt, mme, name_of(7))  # at least one hit
    client = cloudwatch(server.url, PROTOCOLS[0], tmp_path)
    now = datetime.datetime.now(datetime.UTC)
    span = {"StartTime": now - datetime.timedelta(minutes=10), "EndTime": now}
    dimensions = [{"Name": "EndpointName", "Value": mme}, {"Name": "VariantName", "Value": "A"}]

    def stat(metric: str, statistic: str) -> list[float]:
        answer = client.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName=metric, Dimensions=dimensions, Period=600,
            Statistics=[statistic], **span,
        )  # fmt: skip
        return [point[statistic] for point in answer["Datapoints"]]

    assert sum(stat("ModelCacheHit", "Sum")) >= 1
    assert 0 < max(stat("ModelCacheHit", "Average")) < 1  # hits and misses both
    for metric in ("ModelLoadingWaitTime", "ModelDownloadingTime", "ModelLoadingTime"):
        assert sum(stat(metric, "SampleCount")) >= 1, metric
    assert max(stat("LoadedModelCount", "Maximum")) >= 1
