"""The seed's whole scenario, through boto3 only: two weighted variants, waiters, a weight
update, UpdateEndpoint under load with no failed invocation, delete."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer

from .conftest import Tarballs, arn, clients

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/turnout-tests"
FAST = {"Delay": 0.25, "MaxAttempts": 240}  # waiters poll every 0.25 s, at most 60 s
ROWS, LABELS = digits_rows(4)
BODY = json.dumps(ROWS)


def invoke_many(rt: Any, endpoint: str, n: int, **extra: Any) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(n):
        answer = rt.invoke_endpoint(
            EndpointName=endpoint, ContentType="application/json", Body=BODY, **extra
        )
        assert json.loads(answer["Body"].read()) == LABELS
        seen[answer["InvokedProductionVariant"]] += 1
    return seen


def variant(name: str, model: str, weight: float, count: int = 1) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": weight,
    }


class Load:
    """boto3 runtime clients invoking in threads until stopped (bounded in count)."""

    def __init__(self, url: str, endpoint: str, threads: int = 3, limit: int = 5000) -> None:
        self.variants: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(url, endpoint, limit), daemon=True)
            for _ in range(threads)
        ]

    def _run(self, url: str, endpoint: str, limit: int) -> None:
        _, rt = clients(url)
        for _ in range(limit):
            if self._stop.is_set():
                return
            try:
                answer = rt.invoke_endpoint(
                    EndpointName=endpoint, ContentType="application/json", Body=BODY
                )
                answer["Body"].read()
                with self._lock:
                    self.variants.append(answer["InvokedProductionVariant"])
            except Exception as exc:  # every failure counts, whatever its kind
                with self._lock:
                    self.failures.append(repr(exc))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def test_the_seed_scenario(server: BackgroundServer, sm: Any, rt: Any, tarballs: Tarballs) -> None:
    for model, artifact in (("seed-a", "sklearn"), ("seed-b", "sklearn_slow_learner")):
        created = sm.create_model(
            ModelName=model,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": "turnout/sklearn", "ModelDataUrl": tarballs.url(artifact)},
        )
        assert created["ModelArn"] == arn("model", model)
    sm.create_endpoint_config(
        EndpointConfigName="seed-ab",
        ProductionVariants=[variant("A", "seed-a", 0.5), variant("B", "seed-b", 0.5)],
    )
    created = sm.create_endpoint(EndpointName="seed", EndpointConfigName="seed-ab")
    assert created["EndpointArn"] == arn("endpoint", "seed")
    assert sm.describe_endpoint(EndpointName="seed")["EndpointStatus"] in ("Creating", "InService")

    sm.get_waiter("endpoint_in_service").wait(EndpointName="seed", WaiterConfig=FAST)
    described = sm.describe_endpoint(EndpointName="seed")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "seed-ab"
    summaries = {v["VariantName"]: v for v in described["ProductionVariants"]}
    for name in ("A", "B"):
        assert summaries[name]["CurrentWeight"] == summaries[name]["DesiredWeight"] == 0.5
        assert summaries[name]["CurrentInstanceCount"] == 1
        assert summaries[name]["DesiredInstanceCount"] == 1
        assert summaries[name]["VariantStatus"] == []
        assert summaries[name]["DeployedImages"][0]["SpecifiedImage"] == "turnout/sklearn"

    # 50/50: over 200 calls each variant gets 60..140 (a miss has odds below 1e-8).
    split = invoke_many(rt, "seed", 200)
    assert set(split) == {"A", "B"} and 60 <= split["A"] <= 140, split
    assert invoke_many(rt, "seed", 20, TargetVariant="B") == {"B": 20}

    sm.update_endpoint_weights_and_capacities(
        EndpointName="seed",
        DesiredWeightsAndCapacities=[
            {"VariantName": "A", "DesiredWeight": 1.0},
            {"VariantName": "B", "DesiredWeight": 0.0, "DesiredInstanceCount": 1},
        ],
    )
    sm.get_waiter("endpoint_in_service").wait(EndpointName="seed", WaiterConfig=FAST)
    summaries = {
        v["VariantName"]: v for v in sm.describe_endpoint(EndpointName="seed")["ProductionVariants"]
    }
    assert (summaries["A"]["CurrentWeight"], summaries["B"]["CurrentWeight"]) == (1.0, 0.0)
    assert invoke_many(rt, "seed", 40) == {"A": 40}

    # UpdateEndpoint to a new config while boto3 clients keep invoking: nothing may fail.
    sm.create_endpoint_config(
        EndpointConfigName="seed-c", ProductionVariants=[variant("C", "seed-b", 1.0)]
    )
    with Load(server.url, "seed") as load:
        sm.update_endpoint(EndpointName="seed", EndpointConfigName="seed-c")
        updating = sm.describe_endpoint(EndpointName="seed")
        if updating["EndpointStatus"] == "Updating":  # not yet switched (green starting)
            pending = updating["PendingDeploymentSummary"]
            assert pending["EndpointConfigName"] == "seed-c"
            assert [v["VariantName"] for v in pending["ProductionVariants"]] == ["C"]
            assert updating["EndpointConfigName"] == "seed-ab"
        sm.get_waiter("endpoint_in_service").wait(EndpointName="seed", WaiterConfig=FAST)
        assert invoke_many(rt, "seed", 10) == {"C": 10}
    described = sm.describe_endpoint(EndpointName="seed")
    assert described["EndpointConfigName"] == "seed-c"
    assert "PendingDeploymentSummary" not in described
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["C"]
    assert load.failures == []
    assert len(load.variants) > 0 and set(load.variants) <= {"A", "C"}

    sm.delete_endpoint(EndpointName="seed")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="seed", WaiterConfig=FAST)
    with pytest.raises(ClientError) as raised:
        sm.describe_endpoint(EndpointName="seed")
    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": f'Could not find endpoint "{arn("endpoint", "seed")}".',
    }
