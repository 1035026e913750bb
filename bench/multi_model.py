"""Multi-model endpoints (ADR 0037): cold and warm InvokeEndpoint latency with a TargetModel,
beside a single-model endpoint serving the same kind of model, in the same run.

    python bench/multi_model.py [--models 200] [--instances 1]

Every model is a tiny scikit-learn DummyRegressor in a SageMaker model.tar.gz in moto's S3.
- cold: each of `--models` distinct TargetModels invoked once (download, unpack, load,
  predict), one after another;
- warm: the same TargetModels again (loaded: a cache hit each), in runs of 20 interleaved
  with runs of 20 calls to
- single: the baseline, a single-model endpoint (its model from the same bucket);
- churn: as cold, under a budget that holds one model (every call evicts the previous one).
All calls with boto3, as a user makes them; p50/p90/p99 in ms; RSS of the instances at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.multi_model import deploy, name_of, publish
from turnout.cli.background import BackgroundServer, free_port

KEYS = {"aws_access_key_id": "moto", "aws_secret_access_key": "moto", "region_name": "us-east-1"}
BUCKET = "bench-mme"


def timed(rt: Any, endpoint: str, targets: list[str | None]) -> list[float]:
    """Milliseconds of each call, one after another."""
    took = []
    for target in targets:
        extra = {"TargetModel": target} if target is not None else {}
        started = time.perf_counter()
        answer = rt.invoke_endpoint(
            EndpointName=endpoint, Body=b"1.0", ContentType="text/csv", **extra
        )
        answer["Body"].read()
        took.append((time.perf_counter() - started) * 1000)
    return took


def row(label: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"| {label} | {len(ms)} | {q[49]:.2f} | {q[89]:.2f} | {q[98]:.2f} |"


def workers_rss(server: BackgroundServer) -> float:
    assert server.process is not None
    total = 0
    for child in psutil.Process(server.process.pid).children(recursive=True):
        if "--multi-model" in child.cmdline():
            total += child.memory_info().rss
    return total / 2**20


def run(url: str, models: int, instances: int, server: BackgroundServer) -> None:
    sm = boto3.client("sagemaker", endpoint_url=url, **KEYS)
    rt = boto3.client("sagemaker-runtime", endpoint_url=url, **KEYS)
    deploy(sm, "single", {"ModelDataUrl": f"s3://{BUCKET}/mme/{name_of(0)}"}, instances)
    prefix = {"ModelDataUrl": f"s3://{BUCKET}/mme/", "Mode": "MultiModel"}
    deploy(sm, "mme", prefix, instances)
    deploy(sm, "churn", {**prefix, "MultiModelConfig": {"ModelCacheSetting": "Disabled"}},
           instances)  # fmt: skip
    names: list[str | None] = [name_of(i) for i in range(models)]
    timed(rt, "single", [None] * 20)  # warm-up: connections, the instance's first predict
    timed(rt, "mme", [name_of(models)])  # the instance imports scikit-learn once
    timed(rt, "churn", [name_of(models)])
    cold = timed(rt, "mme", names)
    single: list[float] = []
    warm: list[float] = []
    for start in range(0, models, 20):  # interleaved: a burst of other work hits both alike
        single += timed(rt, "single", [None] * len(names[start : start + 20]))
        warm += timed(rt, "mme", names[start : start + 20])
    churn = timed(rt, "churn", names)
    print("| system | calls | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|")
    for label, ms in (("single", single), ("cold", cold), ("warm", warm), ("churn", churn)):
        print(row(label, ms))
    s50, w50, c50 = (statistics.median(x) for x in (single, warm, cold))
    print(f"\nwarm p50 - single p50: {(w50 - s50) * 1000:+.0f} µs; "
          f"cold p50 ÷ warm p50: {c50 / w50:.1f}x; "
          f"multi-model instances' RSS at the end: {workers_rss(server):.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--instances", type=int, default=1)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        store = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=store, **KEYS)
        s3.create_bucket(Bucket=BUCKET)
        publish(lambda n, d: s3.put_object(Bucket=BUCKET, Key=f"mme/{n}", Body=d),
                args.models + 1)  # fmt: skip
        os.environ.update({"TURNOUT_S3_ACCESS_KEY_ID": "moto",
                           "TURNOUT_S3_SECRET_ACCESS_KEY": "moto"})  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            serve_args = ("--s3-endpoint-url", store)
            with BackgroundServer(Path(tmp) / "serve", extra_args=serve_args) as server:
                run(server.url, args.models, args.instances, server)
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
