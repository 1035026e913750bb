"""Autoscaling (ADR 0036) against its baseline, a person's UpdateEndpointWeightsAndCapacities,
in the same run on one `turnout serve`: how long 1 → 3 instances and 3 → 1 take under load,
and how many requests fail meanwhile.

    .venv/bin/python bench/autoscaling.py [--workers 2] [--period 10]

- **manual**: under load, update_traffic to 3 instances; the time to InService at 3; then
  back to 1 (light load), the time to InService at 1.
- **autoscaled**: a target-tracking policy (50 invocations per instance per minute, the
  server judging `--period`-second datapoints, 1 in a row to scale out, 2 to scale in):
  the time from the load's start to InService at 3, and from the load's stop to 1.

Autoscaling adds the wait for datapoints (up to one period plus the rollup settling, for
scale-out; two periods for scale-in) to the same Updating → InService path. Load is bounded:
`--workers` closed-loop clients on loopback, at most 60 s per phase.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routed import deploy, prepare

from turnout.cli.background import BackgroundServer
from turnout.client import Client

RESOURCE = "endpoint/bench/variant/AllTraffic"
DIM = "sagemaker:variant:DesiredInstanceCount"
PHASE_LIMIT = 60.0  # s: no phase runs longer


@dataclass
class Load:
    """`workers` threads posting back to back (or one every `interval` s) until stopped."""

    url: str
    body: bytes
    workers: int
    interval: float = 0.0
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for _ in range(self.workers):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self) -> None:
        headers = {"Content-Type": "application/json"}
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                began = time.perf_counter()
                try:
                    answer = http.post(self.url, content=self.body, headers=headers)
                    good = answer.status_code == 200
                except httpx.HTTPError:
                    good = False
                self.latencies.append(time.perf_counter() - began)
                if good:
                    self.ok += 1
                else:
                    self.failed += 1
                if self.interval:
                    self._stop.wait(self.interval)

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
        return self


def wait_count(client: Client, count: int) -> float:
    """Seconds until the endpoint is InService at `count` instances (bounded)."""
    began = time.monotonic()
    while time.monotonic() - began < PHASE_LIMIT:
        endpoint = client.describe_endpoint("bench")
        state = endpoint["variants"][0]
        if endpoint["status"] == "InService" and state["current_instance_count"] == count:
            return time.monotonic() - began
        time.sleep(0.1)
    raise SystemExit(f"bench: not InService at {count} instances within {PHASE_LIMIT:g} s")


def phase(
    url: str, body: bytes, workers: int, interval: float, change: Callable[[], object], count: int
) -> tuple[float, Load]:
    load = Load(url, body, workers, interval).start()
    try:
        change()
        return wait_count(CLIENT, count), load
    finally:
        load.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="load clients (closed loop)")
    parser.add_argument("--period", type=int, default=10, help="the server's scaling period (s)")
    args = parser.parse_args()
    global CLIENT
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        body = prepare(work).read_bytes()
        server_args = ("--scaling-period", str(args.period), "--scaling-out-datapoints", "1",
                       "--scaling-in-datapoints", "2")  # fmt: skip
        with BackgroundServer(work / "serve", extra_args=server_args) as server:
            url = deploy(server.url, work, 1)
            CLIENT = Client(server.url, timeout=30)
            heavy = (url, body, args.workers, 0.0)
            light = (url, body, 1, 2.0)  # ~30/min: below 90% of the target on any count
            rows = []
            seconds, load = phase(
                *heavy, lambda: CLIENT.update_traffic("bench", None, {"AllTraffic": 3}), 3
            )
            rows.append(("manual", "1 → 3", seconds, load))
            seconds, load = phase(
                *light, lambda: CLIENT.update_traffic("bench", None, {"AllTraffic": 1}), 1
            )
            rows.append(("manual", "3 → 1", seconds, load))
            aas = boto3.client(
                "application-autoscaling", endpoint_url=server.url, region_name="us-east-1",
                aws_access_key_id="k", aws_secret_access_key="s",
            )  # fmt: skip
            target = {"ServiceNamespace": "sagemaker", "ResourceId": RESOURCE,
                      "ScalableDimension": DIM}  # fmt: skip

            def autoscale() -> None:
                aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=3)
                aas.put_scaling_policy(
                    PolicyName="bench", PolicyType="TargetTrackingScaling", **target,
                    TargetTrackingScalingPolicyConfiguration={
                        "TargetValue": 50.0, "ScaleOutCooldown": 0, "ScaleInCooldown": 0,
                        "PredefinedMetricSpecification": {
                            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                        },
                    },
                )  # fmt: skip

            seconds, load = phase(*heavy, autoscale, 3)
            rows.append(("autoscaled", "1 → 3", seconds, load))
            seconds, load = phase(*light, lambda: None, 1)
            rows.append(("autoscaled", "3 → 1", seconds, load))
            CLIENT.close()
    print(f"period {args.period} s, {args.workers} load workers")
    print("| how | change | s to InService | requests | failed | p99 ms |")
    print("|---|---|---|---|---|---|")
    for how, what, seconds, load in rows:
        ordered = sorted(load.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        print(f"| {how} | {what} | {seconds:.1f} | {load.ok + load.failed} | {load.failed} "
              f"| {p99:.1f} |")  # fmt: skip


CLIENT: Client

if __name__ == "__main__":
    main()
