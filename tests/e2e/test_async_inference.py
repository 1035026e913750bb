"""Asynchronous inference end to end (ADR 0031): boto3's invoke_endpoint_async against a real
`turnout serve`, inputs and outputs in a moto-served S3 bucket or local files; bad requests;
and a server killed with SIGKILL while 100 requests wait, which completes each exactly once
after its restart."""

from __future__ import annotations

import collections
import datetime
import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.sagemaker.conftest import clients, s3_server_args, store_url
from tests.store.postgres import fresh_database
from tests.support.endpoints import poll_until
from tests.support.models import make_counting_model, make_recording_model
from turnout.cli.background import BackgroundServer
from turnout.domain.async_inference import RequestState
from turnout.store import Store
from turnout.store.async_queue import AsyncQueue

pytestmark = pytest.mark.e2e

__all__ = ["s3_server_args", "store_url"]  # fixtures, imported to be found here
BUCKET = "turnout-async"
WAIT = {"Delay": 0.25, "MaxAttempts": 240}
BIG = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def server_args(s3_server_args: tuple[str, ...]) -> tuple[str, ...]:
    return s3_server_args


@pytest.fixture(scope="module")
def s3(store_url: str) -> Any:
    client = boto3.client("s3", endpoint_url=store_url, region_name="us-east-1",
                          aws_access_key_id="moto", aws_secret_access_key="moto")  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def boto(server: BackgroundServer) -> tuple[Any, Any]:
    return clients(server.url)


def deploy_async(
    sm: Any, name: str, model_dir: Path, output: str, failure: str | None = None,
    per_instance: int | None = None,
) -> None:  # fmt: skip
    """A model, an endpoint config with AsyncInferenceConfig, and its endpoint, InService."""
    sm.create_model(ModelName=name, PrimaryContainer={"ModelDataUrl": model_dir.as_uri()})
    output_config = {"S3OutputPath": output}
    if failure is not None:
        output_config["S3FailurePath"] = failure
    config: dict[str, Any] = {"OutputConfig": output_config}
    if per_instance is not None:
        config["ClientConfig"] = {"MaxConcurrentInvocationsPerInstance": per_instance}
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "A", "ModelName": name, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
        AsyncInferenceConfig=config,
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=WAIT)


def s3_object(s3: Any, url: str, timeout: float = 120) -> bytes:
    """The object at `url` once it exists (bounded wait)."""
    bucket, key = url.removeprefix("s3://").split("/", 1)

    def read() -> bytes | None:
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        except ClientError:
            return None

    found = poll_until(read, lambda body: body is not None, timeout, f"object {url}")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def counting(boto: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory, s3: Any) -> str:
    model = make_counting_model(tmp_path_factory.mktemp("counting"))
    deploy_async(boto[0], "counting", model, f"s3://{BUCKET}/out", f"s3://{BUCKET}/failed")
    return "counting"


def test_a_50_mb_input_in_s3_is_answered_at_its_output_location(
    boto: tuple[Any, Any], s3: Any, counting: str
) -> None:
    sm, rt = boto
    described = sm.describe_endpoint_config(EndpointConfigName=counting)
    assert described["AsyncInferenceConfig"] == {
        "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/out",
                         "S3FailurePath": f"s3://{BUCKET}/failed"},
    }  # fmt: skip
    line = b"x" * 1023 + b"\n"
    s3.put_object(Bucket=BUCKET, Key="in/big.bin", Body=line * (BIG // len(line)))
    answer = rt.invoke_endpoint_async(
        EndpointName=counting,
        InputLocation=f"s3://{BUCKET}/in/big.bin",
        ContentType="application/octet-stream",
        InferenceId="big-1",
        RequestTTLSeconds=600,
        InvocationTimeoutSeconds=120,
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["InferenceId"] == "big-1"
    assert answer["OutputLocation"] == f"s3://{BUCKET}/out/big-1.out"
    assert answer["FailureLocation"] == f"s3://{BUCKET}/failed/big-1-error.out"
    result = json.loads(s3_object(s3, answer["OutputLocation"]))
    assert result == {"bytes": BIG, "lines": BIG // 1024, "type": "application/octet-stream"}


def test_without_an_inference_id_one_is_made_and_a_retry_is_not_run_twice(
    boto: tuple[Any, Any], s3: Any, counting: str
) -> None:
    rt = boto[1]
    s3.put_object(Bucket=BUCKET, Key="in/small.csv", Body=b"1,2\n3,4\n")
    made = rt.invoke_endpoint_async(
        EndpointName=counting, InputLocation=f"s3://{BUCKET}/in/small.csv"
    )
    assert made["OutputLocation"] == f"s3://{BUCKET}/out/{made['InferenceId']}.out"
    assert json.loads(s3_object(s3, made["OutputLocation"]))["lines"] == 2
    # The same InferenceId and input again (a client's retry): the same request, not a new one.
    again = rt.invoke_endpoint_async(
        EndpointName=counting, InputLocation=f"s3://{BUCKET}/in/small.csv",
        InferenceId=made["InferenceId"],
    )  # fmt: skip
    assert again["OutputLocation"] == made["OutputLocation"]
    with pytest.raises(ClientError) as caught:
        rt.invoke_endpoint_async(
            EndpointName=counting, InputLocation=f"s3://{BUCKET}/in/other.csv",
            InferenceId=made["InferenceId"],
        )  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def validation(call: Callable[[], Any], code: str = "ValidationError") -> str:
    """The message of the ValidationError (HTTP 400) that `call` raises (the control
    plane's is ValidationException)."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == code, error
    return str(error["Error"]["Message"])


def test_bad_requests_get_validation_errors_and_the_server_keeps_serving(
    boto: tuple[Any, Any], s3: Any, counting: str, artifacts: Any
) -> None:
    sm, rt = boto
    s3.put_object(Bucket=BUCKET, Key="in/small.csv", Body=b"1,2\n3,4\n")
    where = f"s3://{BUCKET}/in/small.csv"
    assert "not found" in validation(
        lambda: rt.invoke_endpoint_async(EndpointName="nowhere", InputLocation=where)
    )
    sm.create_model(
        ModelName="realtime", PrimaryContainer={"ModelDataUrl": artifacts.sklearn.as_uri()}
    )
    sm.create_endpoint_config(
        EndpointConfigName="realtime",
        ProductionVariants=[{"VariantName": "A", "ModelName": "realtime",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="realtime", EndpointConfigName="realtime")
    assert "AsyncInferenceConfig" in validation(
        lambda: rt.invoke_endpoint_async(EndpointName="realtime", InputLocation=where)
    )
    assert "InputLocation is required" in validation(
        lambda: rt.invoke_endpoint_async(EndpointName=counting)
    )
    for bad in ("http://example.com/x", "s3://bucket-only", "s3://b/dir/", "file://relative"):
        assert "InputLocation" in validation(
            lambda bad=bad: rt.invoke_endpoint_async(EndpointName=counting, InputLocation=bad)
        ), bad
    assert "RequestTTLSeconds" in validation(
        lambda: rt.invoke_endpoint_async(
            EndpointName=counting, InputLocation=where, RequestTTLSeconds=100_000
        )
    )
    assert "NotificationConfig" in validation(
        lambda: sm.create_endpoint_config(
            EndpointConfigName="notify",
            ProductionVariants=[{"VariantName": "A", "ModelName": "realtime",
                                 "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
            AsyncInferenceConfig={"OutputConfig": {
                "S3OutputPath": f"s3://{BUCKET}/out",
                "NotificationConfig": {"SuccessTopic": "arn:aws:sns:us-east-1:123456789012:done"}}},
        ),
        "ValidationException",
    )  # fmt: skip
    # An input that is not there: accepted (as SageMaker does), then a failure object.
    missing = rt.invoke_endpoint_async(
        EndpointName=counting, InputLocation=f"s3://{BUCKET}/in/absent.csv", InferenceId="gone"
    )
    failure = json.loads(s3_object(s3, missing["FailureLocation"]))
    assert failure["InferenceId"] == "gone"
    assert "absent.csv" in failure["FailureReason"] and "404" in failure["FailureReason"]
    # Still serving: a good request after the bad ones.
    ok = rt.invoke_endpoint_async(EndpointName=counting, InputLocation=where)
    assert json.loads(s3_object(s3, ok["OutputLocation"]))["bytes"] == 8


REQUESTS = 100
PER_INSTANCE = 2


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module (dropped at the end)."""
    with fresh_database("turnout_async") as url:
        yield url.render_as_string(hide_password=False)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_requests_waiting_when_the_server_is_killed_complete_once_after_restart(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    record = tmp_path / "calls.txt"
    model = make_recording_model(tmp_path / "model", record, delay=0.1)
    outputs, inputs = tmp_path / "out", tmp_path / "in"
    inputs.mkdir()
    data_dir = tmp_path / "serve"
    db = (
        request.getfixturevalue("postgres_url")
        if backend == "postgres"
        else f"sqlite:///{data_dir / 'turnout.db'}"
    )
    args = ("--lease-seconds", "3", "--db", db)
    first = BackgroundServer(data_dir, extra_args=args).start()
    try:
        sm, rt = clients(first.url)
        deploy_async(sm, "slow", model, outputs.as_uri(), per_instance=PER_INSTANCE)
        for n in range(REQUESTS):
            (inputs / f"{n}.txt").write_text(f"request-{n}\n")
            rt.invoke_endpoint_async(
                EndpointName="slow", InputLocation=(inputs / f"{n}.txt").as_uri(),
                InferenceId=f"request-{n}", ContentType="text/plain",
            )  # fmt: skip
        poll_until(lambda: len(list(outputs.glob("*.out"))), lambda n: n >= 5, 60, "5 outputs")
    finally:
        first.kill()  # SIGKILL, as a crash would
    done_before = len(list(outputs.glob("*.out")))
    assert done_before < REQUESTS, "every request finished before the kill: nothing was tested"

    with BackgroundServer(data_dir, extra_args=args) as second:
        poll_until(
            lambda: len(list(outputs.glob("*.out"))), lambda n: n == REQUESTS, 180, "all outputs"
        )
        store = Store.open(db)
        try:
            counts = poll_until(
                lambda: AsyncQueue(store).counts("slow"),
                lambda c: c == {RequestState.DONE: REQUESTS}, 30, "all requests done",
            )  # fmt: skip
        finally:
            store.close()
        assert second.process is not None and second.process.poll() is None
    assert counts == {RequestState.DONE: REQUESTS}
    names = sorted(p.name for p in outputs.glob("*.out"))
    assert names == sorted(f"request-{n}.out" for n in range(REQUESTS))
    for n in range(REQUESTS):
        assert (outputs / f"request-{n}.out").read_text() == f"request-{n}"
    assert not list(outputs.glob("*-error.out"))
    # Each request's model call completed once, but for those in flight at the kill (at
    # most MaxConcurrentInvocationsPerInstance x 1 instance), which may have run again.
    calls = collections.Counter(record.read_text().split())
    assert set(calls) == {f"request-{n}" for n in range(REQUESTS)}
    again = [name for name, count in calls.items() if count > 1]
    assert len(again) <= PER_INSTANCE, again
    assert all(count <= 2 for count in calls.values())


def test_the_backlog_shows_in_prometheus_and_cloudwatch(
    boto: tuple[Any, Any], server: BackgroundServer, tmp_path: Path
) -> None:
    sm, rt = boto
    record, inputs = tmp_path / "calls.txt", tmp_path / "in"
    inputs.mkdir()
    model = make_recording_model(tmp_path / "model", record, delay=0.5)
    deploy_async(sm, "backlog", model, (tmp_path / "out").as_uri(), per_instance=1)
    started = datetime.datetime.now(datetime.UTC)
    for n in range(8):
        (inputs / f"{n}.txt").write_text(f"b-{n}\n")
        rt.invoke_endpoint_async(
            EndpointName="backlog", InputLocation=(inputs / f"{n}.txt").as_uri()
        )

    def gauge() -> float:
        text = urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith('turnout_async_backlog_size{endpoint="backlog"}'):
                return float(line.split()[-1])
        return 0.0

    assert poll_until(gauge, lambda size: size >= 2, 30, "a backlog in /metrics") <= 8
    cloudwatch = boto3.client("cloudwatch", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip

    def maximum() -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName="ApproximateBacklogSize",
            Dimensions=[{"Name": "EndpointName", "Value": "backlog"}],
            StartTime=started - datetime.timedelta(minutes=1),
            EndTime=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1),
            Period=60, Statistics=["Maximum", "SampleCount"],
        )["Datapoints"]  # fmt: skip
        return points

    points = poll_until(maximum, lambda found: bool(found), 30, "a CloudWatch datapoint")
    assert 1 <= max(p["Maximum"] for p in points) <= 8
    age = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "age", "MetricStat": {"Metric": {
            "Namespace": "AWS/SageMaker", "MetricName": "ApproximateAgeOfOldestRequest",
            "Dimensions": [{"Name": "EndpointName", "Value": "backlog"}]},
            "Period": 60, "Stat": "Maximum"}}],
        StartTime=started - datetime.timedelta(minutes=1),
        EndTime=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1),
    )["MetricDataResults"][0]  # fmt: skip
    assert age["Id"] == "age" and age["StatusCode"] == "Complete"
    poll_until(lambda: len(list((tmp_path / "out").glob("*.out"))), lambda n: n == 8, 60, "done")


def test_a_request_whose_output_is_already_written_is_done_without_running_again(
    boto: tuple[Any, Any], server: BackgroundServer, tmp_path: Path
) -> None:
    """What a worker that died between writing the output and marking the request leaves:
    the re-run finds the object and only marks the request done (exactly-once effect)."""
    sm, rt = boto
    record, outputs = tmp_path / "calls.txt", tmp_path / "out"
    model = make_recording_model(tmp_path / "model", record, delay=0.0)
    deploy_async(sm, "written", model, outputs.as_uri())
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    outputs.mkdir()
    (outputs / "first.out").write_text("written before")
    for name, source in (("first", "a.txt"), ("second", "b.txt")):
        rt.invoke_endpoint_async(
            EndpointName="written", InputLocation=(tmp_path / source).as_uri(), InferenceId=name
        )
    poll_until(lambda: (outputs / "second.out").exists(), bool, 60, "the second output")
    store = Store.open(f"sqlite:///{server.data_dir / 'turnout.db'}")
    try:
        counts = poll_until(
            lambda: AsyncQueue(store).counts("written"),
            lambda c: c == {RequestState.DONE: 2}, 30, "both requests done",
        )  # fmt: skip
    finally:
        store.close()
    assert counts == {RequestState.DONE: 2}
    assert (outputs / "first.out").read_text() == "written before"
    assert record.read_text().split() == ["b"]  # the model ran for the second only
