"""Serverless endpoints (ADR 0038): a cold start's latency against a warm serverless
variant's and an always-on (provisioned) variant's, the same model in the same run.

    python bench/serverless.py [--cold 5] [--warm 200] [--idle 1]

cold: `--cold` times, one request to the serverless endpoint after its instance stopped
(the server's idle time is `--idle` s; the script waits until the endpoint shows no
instance), timed by the caller; beside it ModelSetupTime as the server counts it (start to
ready, from /metrics). warm: `--warm` requests one after another to the serverless endpoint
while its instance runs. provisioned: the same to an endpoint with one always-on instance
(the baseline). A model of a few lines (inference.py that echoes a length), so the cold start
is turnout's own cost: a worker process started, the model loaded, /ping answered.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from async_inference import MODEL  # the same echo model (bench/ is on sys.path)
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from turnout.cli.background import BackgroundServer

KEYS = {"aws_access_key_id": "x", "aws_secret_access_key": "y", "region_name": "us-east-1"}
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def deploy(url: str, model: Path) -> tuple[Any, Any]:
    sm = boto3.client("sagemaker", endpoint_url=url, **KEYS)
    rt = boto3.client("sagemaker-runtime", endpoint_url=url, config=NO_RETRIES, **KEYS)
    sm.create_model(ModelName="echo", PrimaryContainer={"ModelDataUrl": model.as_uri()})
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 4}
    sm.create_endpoint_config(EndpointConfigName="sls", ProductionVariants=[
        {"VariantName": "A", "ModelName": "echo", "ServerlessConfig": serverless}])  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName="on", ProductionVariants=[
        {"VariantName": "A", "ModelName": "echo", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])  # fmt: skip
    for name in ("sls", "on"):
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 240}
        )
    return sm, rt


def timed(rt: Any, endpoint: str) -> float:
    """Milliseconds one invoke_endpoint took, as the caller sees it."""
    started = time.perf_counter()
    answer = rt.invoke_endpoint(EndpointName=endpoint, Body=b"hello", ContentType="text/plain")
    answer["Body"].read()
    return (time.perf_counter() - started) * 1e3


def instances(url: str, endpoint: str) -> int:
    found = httpx.get(f"{url}/api/v1/endpoints/{endpoint}", timeout=10).json()
    return sum(len(v["instances"]) for v in found["variants"])


def setup_seconds(url: str) -> tuple[float, float]:
    """(count, sum in s) of the serverless endpoint's ModelSetupTime, from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    values = {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "turnout_model_setup_time_seconds"
        for s in family.samples
        if s.labels.get("endpoint") == "sls" and s.name.endswith(("_count", "_sum"))
    }
    return (
        values.get("turnout_model_setup_time_seconds_count", 0.0),
        values.get("turnout_model_setup_time_seconds_sum", 0.0),
    )


def wait_for_zero(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while instances(url, "sls"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the serverless endpoint did not scale to zero in {timeout:g} s")
        time.sleep(0.1)


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"{name:<12} n={len(values):<4} median {statistics.median(values):8.1f} ms   "
        f"p99 {p99:8.1f} ms   max {ordered[-1]:8.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--idle", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="turnout-serverless-bench-") as tmp:
        root = Path(tmp)
        model = root / "model"
        (model / "code").mkdir(parents=True)
        (model / "code" / "inference.py").write_text(textwrap.dedent(MODEL).lstrip())
        extra = ("--serverless-idle", str(args.idle))
        with BackgroundServer(root / "serve", extra_args=extra) as server:
            _, rt = deploy(server.url, model)
            cold: list[float] = []
            for _ in range(args.cold):
                wait_for_zero(server.url, 30 * args.idle + 30)
                cold.append(timed(rt, "sls"))
            timed(rt, "sls")  # warm again, if the last wait let it go
            warm = [timed(rt, "sls") for _ in range(args.warm)]
            provisioned = [timed(rt, "on") for _ in range(args.warm)]
            count, total = setup_seconds(server.url)
    print(summary("cold start", cold))
    print(summary("warm", warm))
    print(summary("provisioned", provisioned))
    if count:
        print(f"ModelSetupTime (server)  n={count:.0f}  mean {total / count * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
