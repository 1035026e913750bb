"""An A/B experiment end to end: 40,000 users invoke through the router with their key,
their conversions (10% on A, 12% on B) come back through the feedback API, and the report
names B the winner. Also: unmatched feedback is counted, bad feedback (NaN, infinite,
beyond 1e15) is refused whole, the CSV export, stopping, and auto-promotion; and the
purchases example of issue 16: revenue per exposed user, zero-filled, against scipy's Welch,
with a 1e200 written straight into the store not breaking the report."""

from __future__ import annotations

import csv
import io
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

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
    assert report["feedback"]["converted"] == {
        "events": len(events) // 2 + 25,
        "unmatched": 25,
        "out_of_range": 0,
    }
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
        ([good, {**good, "value": float("nan")}], "event 2: value must be a finite number"),
        ([{**good, "value": float("inf")}], "finite"),
        ([{**good, "value": 1e200}], "event 1: value 1e+200 is out of range"),
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


SHOPPERS = 20_000
BUYERS = {"A": 5, "B": 6}  # per 100 users: B raises the purchase rate 5% -> 6%


def test_revenue_per_exposed_user_counts_the_users_who_did_not_buy(
    deploy: Deploy, artifacts: Artifacts, client: Client, server: BackgroundServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    """B makes more people buy with the same basket. Averaged over buyers only (the old
    default) revenue looks flat; over every exposed user (the default now) it rises ~20%,
    and the report's Welch test equals scipy's on the zero-filled per-user revenue."""
    deploy("shop", [VariantOf("A", artifacts.sklearn, weight=0.5),
                    VariantOf("B", artifacts.sklearn, weight=0.5)])  # fmt: skip
    revenue = {"name": "revenue", "kind": "numeric", "per_user": "sum"}
    base = {"variants": ["A", "B"], "control": "A", "minimum_sample": 1000}
    client.create_experiment("shop", {**base, "name": "exposed", "primary": revenue})
    client.create_experiment(
        "shop", {**base, "name": "buyers", "primary": {**revenue, "over": "users_with_events"}}
    )
    variants = assign_users(server.url, "shop", tmp_path / "u.json", SHOPPERS, concurrency=32)
    rng = np.random.default_rng(16)
    seen = {"A": 0, "B": 0}
    spent = np.zeros(SHOPPERS)
    for i, v in enumerate(variants):
        if seen[v] % 100 < BUYERS[v]:  # exactly 5% and 6%, the same basket distribution
            spent[i] = round(float(rng.lognormal(math.log(40), 0.6)), 2)
        seen[v] += 1
    events = [{"metric": "revenue", "value": spent[i], "user": f"user-{i}"}
              for i in np.flatnonzero(spent)]  # fmt: skip
    client.send_feedback("shop", events)
    report = poll_until(
        lambda: client.experiment_report("shop", "exposed"),
        lambda r: sum(r["users"].values()) == SHOPPERS,
        timeout=30,
        what="all exposures in the report",
    )
    per_user = {v: spent[[i for i, w in enumerate(variants) if w == v]] for v in "AB"}
    welch = stats.ttest_ind(per_user["B"], per_user["A"], equal_var=False)
    (primary,) = report["comparisons"]
    print(
        f"revenue per exposed user A {primary['control']['value']:.4f} "
        f"B {primary['treatment']['value']:.4f} ({primary['lift_relative']['value']:+.1%}), "
        f"Welch p {primary['p_value']:.3g} (scipy {welch.pvalue:.3g})"
    )
    assert report["users"] == {v: int(per_user[v].size) for v in "AB"}
    assert math.isclose(primary["control"]["value"], per_user["A"].mean(), rel_tol=1e-9)
    assert math.isclose(primary["treatment"]["value"], per_user["B"].mean(), rel_tol=1e-9)
    assert math.isclose(primary["p_value"], welch.pvalue, rel_tol=1e-9)
    assert primary["lift_absolute"]["value"] > 0 and primary["lift_relative"]["value"] > 0.1
    assumed = report["assumptions"]["metrics"][0]
    assert assumed["users"] == "all exposed users (no event: 0)"

    buyers = client.experiment_report("shop", "buyers")
    (conditional,) = buyers["comparisons"]
    assert buyers["assumptions"]["metrics"][0]["users"] == "only users with an event"
    basket = {v: per_user[v][per_user[v] > 0] for v in "AB"}
    assert math.isclose(conditional["treatment"]["value"], basket["B"].mean(), rel_tol=1e-9)
    assert abs(conditional["lift_relative"]["value"]) < 0.1  # the same basket

    # A value no API accepts any more, already in the store, must not break the report.
    with sqlite3.connect(server.data_dir / "turnout.db", timeout=30) as db:
        db.execute(
            "INSERT INTO feedback (endpoint, user_key, inference_id, metric, value, at) "
            "VALUES ('shop', 'user-0', NULL, 'revenue', 1e200, ?)",
            (report["created_at"] + 1,),
        )
    after = client.experiment_report("shop", "exposed")
    assert after["comparisons"][0]["p_value"] == primary["p_value"]
    assert after["feedback"]["revenue"]["out_of_range"] == 1
    assert (
        client.experiment_report_csv("shop", "exposed").splitlines()[-1].startswith("# decision:")
    )


def test_a_weight_change_starts_a_new_phase_with_no_srm_alarm_and_no_winner(
    deploy: Deploy, artifacts: Artifacts, client: Client, server: BackgroundServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A/A (the same model twice) ramped 90/10 → 50/50 mid-experiment: the report analyses
    the users first exposed since the ramp, against 50/50; no SRM alarm and no winner."""
    deploy("aa", [VariantOf("A", artifacts.sklearn, weight=0.9),
                  VariantOf("B", artifacts.sklearn, weight=0.1)])  # fmt: skip
    client.create_experiment(
        "aa",
        {"name": "aa-ramp", "variants": ["A", "B"], "control": "A",
         "primary": {"name": "converted"}, "minimum_sample": 100, "alpha": 0.01},
    )  # fmt: skip
    rng = np.random.default_rng(5)

    def converted(users: list[str], prefix: str) -> list[dict[str, Any]]:
        # A/A: the same 20% whatever the variant.
        return [{"metric": "converted", "value": True, "user": f"{prefix}{i}"}
                for i in range(len(users)) if rng.random() < 0.2]  # fmt: skip

    before = assign_users(server.url, "aa", tmp_path / "before.json", 1500, prefix="early-")
    client.send_feedback("aa", converted(before, "early-"))
    first = client.experiment_report("aa", "aa-ramp")
    assert first["phase"]["number"] == 1
    assert first["expected_shares"] == {"A": pytest.approx(0.9), "B": pytest.approx(0.1)}

    client.update_traffic("aa", {"A": 0.5, "B": 0.5})
    client.wait_for_endpoint("aa")
    # Early users come back (some now served B: sticky assignment moves them into the
    # growing variant), and new ones arrive.
    assign_users(server.url, "aa", tmp_path / "again.json", 1500, prefix="early-")
    after = assign_users(server.url, "aa", tmp_path / "after.json", 3000, prefix="late-")
    client.send_feedback("aa", converted(after, "late-"))
    report = poll_until(
        lambda: client.experiment_report("aa", "aa-ramp"),
        lambda r: sum(r["users"].values()) == len(after),
        timeout=30,
        what="the new phase's users in the report",
    )
    assert report["phase"]["number"] == 2
    assert report["expected_shares"] == {"A": pytest.approx(0.5), "B": pytest.approx(0.5)}
    assert report["users"] == {v: after.count(v) for v in ("A", "B")}
    assert not report["sample_ratio_mismatch"], report["sample_ratio_p"]
    assert report["decision"]["verdict"] != "winner", report["decision"]["message"]


def test_new_salt_re_randomizes_the_split(
    deploy: Deploy, artifacts: Artifacts, client: Client, server: BackgroundServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    """An experiment created with new_salt splits the same users afresh: about half move
    (at 50/50); one created without it moves nobody."""
    deploy("resalted", [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    first = assign_users(server.url, "resalted", tmp_path / "1.json", 400, prefix="same-")
    definition = {"variants": ["A", "B"], "control": "A", "primary": {"name": "converted"}}
    client.create_experiment("resalted", {"name": "kept", **definition})
    kept = assign_users(server.url, "resalted", tmp_path / "2.json", 400, prefix="same-")
    assert kept == first
    client.stop_experiment("resalted", "kept")
    client.create_experiment("resalted", {"name": "fresh", "new_salt": True, **definition})
    moved = poll_until(  # every router applies the new salt (this one at once)
        lambda: sum(
            a != b
            for a, b in zip(
                first,
                assign_users(server.url, "resalted", tmp_path / "3.json", 400, prefix="same-"),
                strict=True,
            )
        ),
        lambda n: n > 0,
        timeout=15,
        what="users split afresh",
    )
    # Binomial(400, 0.5): 200 ± 10 (sd); 6 sd either side.
    assert 140 <= moved <= 260
