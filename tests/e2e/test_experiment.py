"""An A/B experiment end to end: 40,000 users invoke through the router with their key,
their conversions (10% on A, 12% on B) come back through the feedback API, and the report
names B the winner. Also: unmatched feedback is counted, bad feedback is refused whole,
the CSV export, stopping, and auto-promotion."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from tests.support.users import assign_users
from turnout.cli.background import BackgroundServer
from turnout.client import Client, TurnoutAPIError

pytestmark = pytest.mark.e2e

USERS = 40_000
RATES = {"A": 0.10, "B": 0.12}
EXPERIMENT = {
    "name": "checkout",
    "variants": ["A", "B"],
    "control": "A",
    "primary": {"name": "converted", "kind": "binary", "direction": "higher"},
    "guardrails": [{"name": "basket", "kind": "numeric", "direction": "higher"}],
    "minimum_sample": 1000,
    "alpha": 0.05,
    "method": "sequential",
}


def conversions(variants: list[str], seed: int = 11) -> list[dict[str, Any]]:
    """Feedback of the users who converted, half keyed by user, half by inference id."""
    rng = np.random.default_rng(seed)
    draws = rng.random(len(variants))
    events: list[dict[str, Any]] = []
    for i, (variant, u) in enumerate(zip(variants, draws, strict=True)):
        if u < RATES[variant]:
            key = {"user": f"user-{i}"} if i % 2 else {"inference_id": f"user-{i}-inference"}
            events.append({"metric": "converted", "value": True, **key})
            events.append({"metric": "basket", "value": 20.0 + (i % 7), "user": f"user-{i}"})
    return events


@pytest.fixture(scope="module")
def ab(deploy: Deploy, artifacts: Artifacts) -> str:
    deploy(
        "ab",
        [
            VariantOf("A", artifacts.sklearn, weight=0.5),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.5),
        ],
    )
    return "ab"


def test_a_real_ab_run_names_the_better_variant(
    ab: str, client: Client, server: BackgroundServer, tmp_path: Path
) -> None:
    created = client.create_experiment(ab, EXPERIMENT)
    assert created["status"] == "running"
    variants = assign_users(
        server.url, ab, tmp_path / "users.json", USERS, concurrency=32, inference_ids=True
    )
    events = conversions(variants)
    unknown = [{"metric": "converted", "value": 1, "user": f"stranger-{i}"} for i in range(25)]
    assert client.send_feedback(ab, events + unknown) == len(events) + 25
    report = poll_until(
        lambda: client.experiment_report(ab, "checkout"),
        lambda r: sum(r["users"].values()) == USERS,
        timeout=30,
        what="all 40,000 exposures in the report",
    )
    primary = next(c for c in report["comparisons"] if c["metric"] == "converted")
    print(
        f"users {report['users']}, conversion A {primary['control']['value']:.4f} "
        f"B {primary['treatment']['value']:.4f}, p {primary['p_value']:.2e}, "
        f"sequential p {primary['p_value_sequential']:.2e}, SRM p {report['sample_ratio_p']:.3f}"
        f"; {report['decision']['message']}"
    )
    assert report["decision"]["verdict"] == "winner"
    assert report["decision"]["variant"] == "B"
    assert primary["significant"] and primary["p_value_sequential"] <= 0.05
    assert primary["lift_absolute"]["low"] > 0
    assert not report["sample_ratio_mismatch"]
    assert report["feedback"]["converted"] == {"events": len(events) // 2 + 25, "unmatched": 25}
    # Every user counts once, in the variant that first served it.
    assert report["users"] == {v: variants.count(v) for v in ("A", "B")}

    rows = list(csv.reader(io.StringIO(client.experiment_report_csv(ab, "checkout"))))
    assert rows[0][:3] == ["metric", "role", "variant"]
    assert rows[1][:3] == ["converted", "primary", "B"]
    assert rows[-1][0].startswith("# decision: winner")

    stopped = client.stop_experiment(ab, "checkout")
    assert stopped["status"] == "stopped"
    with pytest.raises(TurnoutAPIError) as again:
        client.stop_experiment(ab, "checkout")
    assert again.value.status == 409


def test_bad_feedback_is_refused_whole_with_one_message(ab: str, client: Client) -> None:
    good = {"metric": "converted", "value": 1, "user": "u"}
    cases = [
        ([good, {"metric": "converted", "value": 1}], "event 2: give exactly one of user"),
        ([{**good, "timestamp": 4e12}], "timestamp"),
        ([good] * 10_001, "10000"),
    ]
    for events, expected in cases:
        with pytest.raises(TurnoutAPIError) as refused:
            client._call("POST", f"/api/v1/endpoints/{ab}/feedback", {"events": events})
        assert refused.value.status == 400
        assert expected in refused.value.message, refused.value.message
    with pytest.raises(TurnoutAPIError) as unknown:
        client.send_feedback("no-such-endpoint", [good])
    assert unknown.value.status == 404


def test_experiment_definitions_are_validated(ab: str, client: Client) -> None:
    with pytest.raises(TurnoutAPIError) as refused:
        client.create_experiment(ab, {**EXPERIMENT, "name": "x", "variants": ["A", "C"]})
    assert refused.value.status == 400 and '"C"' in refused.value.message
    with pytest.raises(TurnoutAPIError) as refused:
        client.create_experiment(ab, {**EXPERIMENT, "name": "y", "control": "Z"})
    assert refused.value.status == 400


def test_auto_promote_shifts_all_traffic_to_the_winner(
    deploy: Deploy, artifacts: Artifacts, client: Client, server: BackgroundServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    deploy(
        "promo",
        [
            VariantOf("A", artifacts.sklearn, weight=0.5),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.5),
        ],
    )
    client.create_experiment(
        "promo", {**EXPERIMENT, "name": "promo", "guardrails": [], "auto_promote": True}
    )
    variants = assign_users(server.url, "promo", tmp_path / "u.json", 4000, concurrency=16)
    # A stark difference (5% vs 40%) so that 4,000 users decide it.
    rng = np.random.default_rng(5)
    events = [
        {"metric": "converted", "value": 1, "user": f"user-{i}"}
        for i, (v, u) in enumerate(zip(variants, rng.random(len(variants)), strict=True))
        if u < {"A": 0.05, "B": 0.40}[v]
    ]
    client.send_feedback("promo", events)
    done = poll_until(
        lambda: client.list_experiments("promo")[0],
        lambda e: e["status"] != "running",
        timeout=60,
        what="auto-promotion",
    )
    assert done["status"] == "promoted" and "promoted B" in done["outcome"]
    endpoint = client.wait_for_endpoint("promo", timeout=60)
    weights = {v["name"]: v["current_weight"] for v in endpoint["variants"]}
    assert weights == {"A": 0.0, "B": 1.0}
