"""The switch (ADR 0040): the overhead of the hop through a routing endpoint, same run.

    python bench/switch.py [--requests 500] [--rounds 3]

One `turnout serve`, one digits LogisticRegression endpoint `direct` (the baseline), a
switch `front` over it with no code (pure routing) and a switch `hooked` over it whose
code/switch.py has identity preprocess and postprocess (two thread-pool calls per request).
Each round sends `--requests` requests one after another to each, in turn, over one
keep-alive connection (httpx), with an X-Turnout-User key; reports the median and p99 of
the caller's latency (ms) and the median's ratio to direct's, medians over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import boto3
import httpx
import joblib
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from turnout.cli.background import BackgroundServer

KEYS = {"aws_access_key_id": "x", "aws_secret_access_key": "y", "region_name": "us-east-1"}
ROW = ("[" + ",".join(["0.0"] * 64) + "]").encode()
IDENTITY = "def preprocess(request):\n    return request\n\n" \
    "def postprocess(request, answer):\n    return answer\n"  # fmt: skip


def deploy(url: str, root: Path) -> None:
    sm = boto3.client("sagemaker", endpoint_url=url, **KEYS)
    digits = load_digits()
    (root / "model").mkdir()
    model = LogisticRegression(max_iter=200).fit(digits.data, digits.target)
    joblib.dump(model, root / "model" / "model.joblib")
    (root / "hooks" / "code").mkdir(parents=True)
    (root / "hooks" / "code" / "switch.py").write_text(IDENTITY)
    switch = {"TURNOUT_ROUTE_TO": "direct"}
    containers = {
        "direct": {"ModelDataUrl": (root / "model").as_uri()},
        "front": {"Environment": switch},
        "hooked": {"ModelDataUrl": (root / "hooks").as_uri(), "Environment": switch},
    }
    for name, container in containers.items():
        sm.create_model(ModelName=name, PrimaryContainer=container)
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": "A", "ModelName": name, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}])  # fmt: skip
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 240}
        )


def latencies(http: httpx.Client, endpoint: str, requests: int) -> list[float]:
    found = []
    for i in range(requests):
        started = time.perf_counter()
        answer = http.post(
            f"/endpoints/{endpoint}/invocations", content=ROW,
            headers={"Content-Type": "application/json", "X-Turnout-User": f"u{i}"},
        )  # fmt: skip
        found.append((time.perf_counter() - started) * 1e3)
        assert answer.status_code == 200, answer.text
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    systems = ("direct", "front", "hooked")
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(Path(tmp) / "serve") as server:
        deploy(server.url, Path(tmp))
        medians: dict[str, list[float]] = {s: [] for s in systems}
        p99s: dict[str, list[float]] = {s: [] for s in systems}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            latencies(http, "hooked", 50)  # warm-up: hooks imported, pools open
            for _ in range(args.rounds):
                for system in systems:
                    found = latencies(http, system, args.requests)
                    medians[system].append(statistics.median(found))
                    p99s[system].append(found[int(len(found) * 0.99) - 1])
    base = statistics.median(medians["direct"])
    print(f"{'system':8} {'median ms':>10} {'p99 ms':>8} {'x direct':>9}")
    for system in systems:
        median = statistics.median(medians[system])
        p99 = statistics.median(p99s[system])
        print(f"{system:8} {median:10.3f} {p99:8.3f} {median / base:9.2f}")


if __name__ == "__main__":
    main()
