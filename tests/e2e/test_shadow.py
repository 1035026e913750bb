"""Shadow variants and shadow tests through boto3 only (issue 15, ADR 0021).

An endpoint config with ShadowProductionVariants: every caller is answered by the
production variant, the shadow gets its sampled share of copies, and a shadow that fails
every request costs callers nothing. An inference experiment (CreateInferenceExperiment)
runs a shadow that is wrong on a known set of inputs: its report names exactly that
agreement, and StopInferenceExperiment with Promote switches production to the shadow's
model without a failed request.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.sagemaker.conftest import clients
from tests.support.capture import read_records
from tests.support.endpoints import poll_until
from tests.support.models import (
    contrary_row,
    digits_rows,
    make_shadow_model,
    make_tarball,
    train_digits,
)
from tests.support.prometheus import samples
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/turnout-tests"
FAST = {"Delay": 0.25, "MaxAttempts": 240}
VARIANT = {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
INFRASTRUCTURE = {
    "InfrastructureType": "RealTimeInference",
    "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
}


@pytest.fixture(scope="module")
def boto(server: BackgroundServer) -> tuple[Any, Any]:
    return clients(server.url)


@pytest.fixture(scope="module")
def models(boto: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Model names by role: production, raising and contrary shadows."""
    sm, _ = boto
    root = tmp_path_factory.mktemp("shadow-models")
    names = {}
    for role, mode in (("production", "none"), ("raising", "raise"), ("contrary", "contrary")):
        directory = make_shadow_model(root / role, mode)
        tarball = make_tarball(directory, root / f"{role}.tar.gz")
        sm.create_model(
            ModelName=f"shadow-{role}",
            PrimaryContainer={"Image": "example.com/digits:1", "ModelDataUrl": tarball.as_uri()},
            ExecutionRoleArn=ROLE,
        )
        names[role] = f"shadow-{role}"
    return names


def _invoke_all(runtime: Any, endpoint: str, rows: list[list[float]]) -> list[tuple[str, Any]]:
    answers = []
    for row in rows:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint, Body=json.dumps(row), ContentType="application/json"
        )
        answers.append((response["InvokedProductionVariant"], json.loads(response["Body"].read())))
    return answers


def _invocations(client: Client, endpoint: str) -> dict[str, float]:
    summary = client.metrics_summary(endpoint, since=600)
    return {
        v["variant"]: v["metrics"].get("Invocations", {}).get("Sum", 0.0)
        for v in summary["variants"]
    }


def test_a_failing_shadow_gets_its_share_and_costs_callers_nothing(
    boto: tuple[Any, Any], models: dict[str, str], client: Client, server: BackgroundServer
) -> None:
    sm, runtime = boto
    sm.create_endpoint_config(
        EndpointConfigName="mirrored",
        ProductionVariants=[{"VariantName": "live", "ModelName": models["production"],
                             "InitialVariantWeight": 1.0, **VARIANT}],
        ShadowProductionVariants=[{"VariantName": "shadow", "ModelName": models["raising"],
                                   "InitialVariantWeight": 0.5, **VARIANT}],
    )  # fmt: skip
    described = sm.describe_endpoint_config(EndpointConfigName="mirrored")
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["shadow"]
    sm.create_endpoint(EndpointName="mirrored", EndpointConfigName="mirrored")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="mirrored", WaiterConfig=FAST)
    endpoint = sm.describe_endpoint(EndpointName="mirrored")
    assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["live"]
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["shadow"]

    rows = digits_rows(400, seed=1)[0] * 5  # 2,000 invocations
    answers = []
    threads = [
        threading.Thread(
            target=lambda part=part: answers.extend(_invoke_all(runtime, "mirrored", part))
        )
        for part in (rows[i::4] for i in range(4))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every caller answered by production (boto3 raises on any error).
    assert len(answers) == len(rows)
    assert {variant for variant, _ in answers} == {"live"}

    # The shadow got about half: Binomial(2000, 0.5) is 1000 ± 22 (sd); all of them failed.
    counts = poll_until(
        lambda: _invocations(client, "mirrored"),
        lambda c: c.get("live", 0) >= len(rows) and c.get("shadow", 0) > 0,
        timeout=30,
        what="both variants' invocations in the metrics",
    )
    time.sleep(2.5)  # the shadow's last copies are answered and flushed
    counts = _invocations(client, "mirrored")
    assert counts["live"] == len(rows)
    assert 1000 - 5 * 22 <= counts["shadow"] <= 1000 + 5 * 22
    summary = client.metrics_summary("mirrored", since=600)
    shadow = next(v for v in summary["variants"] if v["variant"] == "shadow")
    errors = shadow["metrics"]["Invocation4XXErrors"]["Sum"]
    errors += shadow["metrics"]["Invocation5XXErrors"]["Sum"]
    assert errors == counts["shadow"]
    assert shadow.get("shadow") is True
    marked = samples(server.url, "turnout_shadow_variant", "mirrored")
    assert [(m.labels["variant"], m.value) for m in marked] == [("shadow", 1.0)]
    sm.delete_endpoint(EndpointName="mirrored")


@pytest.mark.parametrize(
    ("production", "shadows", "message"),
    [
        (["a", "b"], [("s", 0.5)], "exactly one production variant and one shadow variant"),
        (["a"], [("s", 0.5), ("t", 0.5)], "exactly one production variant and one shadow"),
        (["a"], [("a", 0.5)], 'The variant name "a" was non-unique within the request.'),
        (["a"], [("s", 0.0)], "needs a weight > 0"),
    ],
)
def test_shadow_variants_follow_sagemakers_rules(
    boto: tuple[Any, Any],
    models: dict[str, str],
    production: list[str],
    shadows: list[tuple[str, float]],
    message: str,
) -> None:
    sm, _ = boto
    with pytest.raises(ClientError) as caught:
        sm.create_endpoint_config(
            EndpointConfigName="bad-shadow",
            ProductionVariants=[
                {"VariantName": name, "ModelName": models["production"], **VARIANT}
                for name in production
            ],
            ShadowProductionVariants=[
                {"VariantName": name, "ModelName": models["contrary"],
                 "InitialVariantWeight": weight, **VARIANT}
                for name, weight in shadows
            ],
        )  # fmt: skip
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert message in error["Message"]


def test_a_shadow_test_reports_its_agreement_and_promote_switches_without_failures(
    boto: tuple[Any, Any], models: dict[str, str], client: Client, tmp_path: Path
) -> None:
    sm, runtime = boto
    sm.create_endpoint_config(
        EndpointConfigName="tested",
        ProductionVariants=[{"VariantName": "main", "ModelName": models["production"],
                             "InitialVariantWeight": 1.0, **VARIANT}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="tested", EndpointConfigName="tested")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="tested", WaiterConfig=FAST)
    infrastructure = INFRASTRUCTURE
    created = sm.create_inference_experiment(
        Name="contrary-test",
        Type="ShadowMode",
        RoleArn=ROLE,
        EndpointName="tested",
        ModelVariants=[
            {"ModelName": models["production"], "VariantName": "main",
             "InfrastructureConfig": infrastructure},
            {"ModelName": models["contrary"], "VariantName": "candidate",
             "InfrastructureConfig": infrastructure},
        ],
        DataStorageConfig={
            "Destination": (tmp_path / "captured").as_uri(),
            "ContentType": {"JsonContentTypes": ["application/json"]},
        },
        ShadowModeConfig={
            "SourceModelVariantName": "main",
            "ShadowModelVariants": [
                {"ShadowModelVariantName": "candidate", "SamplingPercentage": 100}
            ],
        },
    )  # fmt: skip
    assert created["InferenceExperimentArn"].endswith(":inference-experiment/contrary-test")
    poll_until(
        lambda: sm.describe_inference_experiment(Name="contrary-test"),
        lambda d: d["Status"] == "Running",
        timeout=120,
        what="the inference experiment to be Running",
    )

    rows, _ = digits_rows(300, seed=2)
    answers = _invoke_all(runtime, "tested", rows)
    assert {variant for variant, _ in answers} == {"main"}
    expected = 1 - sum(contrary_row(r) for r in rows) / len(rows)
    report = poll_until(
        lambda: client.inference_experiment_report("contrary-test"),
        lambda r: r["compared"] == len(rows),
        timeout=30,
        what="every pair compared",
    )
    assert report["agreement"] == pytest.approx(expected, abs=1e-12)
    assert 0.0 < expected < 1.0
    assert report["shadow"]["error_rate"] == 0.0
    assert report["examples"], "disagreeing examples are shown"

    # Both sides captured (DataStorageConfig), each under its variant's name.
    def captured() -> dict[str, int]:
        counts: dict[str, int] = {}
        for path, records in read_records(tmp_path / "captured").items():
            variant = path.relative_to(tmp_path / "captured" / "tested").parts[0]
            counts[variant] = counts.get(variant, 0) + len(records)
        return counts

    poll_until(captured, lambda c: c == {"main": 300, "candidate": 300}, 30, "captures")
    listed = sm.list_inference_experiments()["InferenceExperiments"]
    assert [e["Name"] for e in listed] == ["contrary-test"]

    # Promote while traffic flows: no caller sees an error.
    failures: list[BaseException] = []
    served: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        row = rows[0]
        while not stop.is_set():
            try:
                served.extend(v for v, _ in _invoke_all(runtime, "tested", [row]))
            except Exception as exc:  # counted, then asserted
                failures.append(exc)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        sm.stop_inference_experiment(
            Name="contrary-test",
            ModelVariantActions={"main": "Remove", "candidate": "Promote"},
            DesiredState="Completed",
        )
        done = poll_until(
            lambda: sm.describe_inference_experiment(Name="contrary-test"),
            lambda d: d["Status"] == "Completed",
            timeout=120,
            what="the experiment to complete",
        )
    finally:
        stop.set()
        sender.join()
    assert failures == []
    assert len(served) > 0
    endpoint = sm.describe_endpoint(EndpointName="tested")
    assert endpoint["EndpointStatus"] == "InService"
    assert "ShadowProductionVariants" not in endpoint
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert [(v["VariantName"], v["ModelName"]) for v in config["ProductionVariants"]] == [
        ("main", models["contrary"])
    ]
    assert done["EndpointMetadata"]["EndpointConfigName"] == endpoint["EndpointConfigName"]
    # The promoted model now answers callers: wrong exactly where it was scripted to be.
    wrong = next(r for r in rows if contrary_row(r))
    predicted = _invoke_all(runtime, "tested", [wrong])[0][1]
    model = train_digits().estimator
    assert predicted == [(int(model.predict([wrong])[0]) + 1) % 10]
    sm.delete_endpoint(EndpointName="tested")


def test_a_shadow_test_ends_by_itself_at_its_end_time(
    boto: tuple[Any, Any], models: dict[str, str]
) -> None:
    sm, runtime = boto
    sm.create_endpoint_config(
        EndpointConfigName="timed",
        ProductionVariants=[{"VariantName": "main", "ModelName": models["production"], **VARIANT}],
    )
    sm.create_endpoint(EndpointName="timed", EndpointConfigName="timed")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="timed", WaiterConfig=FAST)
    now = time.time()
    sm.create_inference_experiment(
        Name="timed-test", Type="ShadowMode", RoleArn=ROLE, EndpointName="timed",
        Schedule={"StartTime": now, "EndTime": now + 8},
        ModelVariants=[{"ModelName": models["production"], "VariantName": "main",
                        "InfrastructureConfig": INFRASTRUCTURE},
                       {"ModelName": models["contrary"], "VariantName": "cand",
                        "InfrastructureConfig": INFRASTRUCTURE}],
        ShadowModeConfig={"SourceModelVariantName": "main", "ShadowModelVariants": [
            {"ShadowModelVariantName": "cand", "SamplingPercentage": 50}]},
    )  # fmt: skip
    done = poll_until(
        lambda: sm.describe_inference_experiment(Name="timed-test"),
        lambda d: d["Status"] in ("Completed", "Cancelled"),
        timeout=120,
        what="the experiment to end at its EndTime",
    )
    assert done["Status"] == "Completed"
    assert done["StatusReason"] == "The schedule ended."
    assert done["CompletionTime"].timestamp() >= now + 8
    endpoint = sm.describe_endpoint(EndpointName="timed")
    assert "ShadowProductionVariants" not in endpoint  # the shadow is gone
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert [(v["VariantName"], v["ModelName"]) for v in config["ProductionVariants"]] == [
        ("main", models["production"])
    ]
    answer = runtime.invoke_endpoint(
        EndpointName="timed", Body=json.dumps(digits_rows(1)[0][0]), ContentType="application/json"
    )
    assert answer["InvokedProductionVariant"] == "main"
    sm.delete_endpoint(EndpointName="timed")
