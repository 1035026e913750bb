"""Inference pipelines (ADR 0039): InvokeEndpoint latency of a two-container pipeline
(scaler inference.py, then LogisticRegression) beside the single fused model (the same two
fitted steps as one scikit-learn Pipeline in one container), in the same run.

    python bench/pipelines.py [--calls 300]

One `turnout serve`, two endpoints of one instance each. Calls one at a time with boto3,
CSV in, JSON out, `--calls` per system and batch size (1 row and 100 rows), in runs of 20
interleaved between the systems; p50/p90/p99 in ms; then each container's mean time from
/metrics (turnout_pipeline_container_seconds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import joblib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.multi_model import row
from tests.support.multi_model import deploy
from tests.support.pipelines import containers, csv, fit
from turnout.cli.background import BackgroundServer

KEYS = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "region_name": "us-east-1"}
VARIANT = [{"VariantName": "A", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]


def deploy_pipeline(sm: Any, name: str, steps: list[dict[str, Any]]) -> None:
    sm.create_model(ModelName=name, Containers=steps, InferenceExecutionConfig={"Mode": "Serial"})
    sm.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**VARIANT[0], "ModelName": name}]
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 480}
    )


def timed(rt: Any, endpoint: str, body: bytes, calls: int) -> list[float]:
    took = []
    for _ in range(calls):
        started = time.perf_counter()
        answer = rt.invoke_endpoint(
            EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="application/json"
        )
        answer["Body"].read()
        took.append((time.perf_counter() - started) * 1000)
    return took


def container_means(url: str) -> dict[str, float]:
    """Mean ms per container of the pipeline endpoint, from Prometheus' _sum / _count."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    sums: dict[str, dict[str, float]] = {"sum": {}, "count": {}}
    for line in text.splitlines():
        for kind in sums:
            if line.startswith(f"turnout_pipeline_container_seconds_{kind}{{"):
                container = line.split('container="', 1)[1].split('"', 1)[0]
                sums[kind][container] = float(line.rsplit(" ", 1)[1])
    return {c: 1000 * s / sums["count"][c] for c, s in sums["sum"].items() if sums["count"][c]}


def run(url: str, calls: int, root: Path) -> None:
    sm = boto3.client("sagemaker", endpoint_url=url, **KEYS)
    rt = boto3.client("sagemaker-runtime", endpoint_url=url, **KEYS)
    pipeline, rows = fit()
    deploy_pipeline(sm, "pipeline", containers(root / "pipeline", pipeline))
    (root / "fused").mkdir()
    joblib.dump(pipeline, root / "fused" / "model.joblib")
    deploy(sm, "fused", {"ModelDataUrl": str(root / "fused")})
    assert rows[:100].shape == (100, 30)
    print("| system | calls | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|")
    for size in (1, 100):
        body = csv(rows[:size])
        for endpoint in ("fused", "pipeline"):
            timed(rt, endpoint, body, 10)  # warm-up: connections, first predict
        took: dict[str, list[float]] = {"fused": [], "pipeline": []}
        for _ in range(0, calls, 20):  # interleaved: a burst of other work hits both alike
            for endpoint, ms in took.items():
                ms += timed(rt, endpoint, body, 20)
        for endpoint, ms in took.items():
            print(row(f"{endpoint}, {size} row{'s' if size > 1 else ''}", ms))
        f50, p50 = statistics.median(took["fused"]), statistics.median(took["pipeline"])
        print(f"\n{size} row(s): pipeline p50 - fused p50: {(p50 - f50) * 1000:+.0f} µs\n")
    means = ", ".join(f"{c} {ms:.3f} ms" for c, ms in container_means(url).items())
    print(f"mean time per container (all calls): {means}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(Path(tmp) / "serve") as server:
        run(server.url, args.calls, Path(tmp))


if __name__ == "__main__":
    main()
