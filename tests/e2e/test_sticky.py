"""Sticky assignment through a real `turnout serve`: users keep their variant, a canary's
users stay in it while UpdateEndpointWeightsAndCapacities ramps it 1% → 100%, browsers
get a cookie and keep their variant, and targeting rules route before the weights."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from scipy.stats import binom

from tests.api.sagemaker.conftest import clients
from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, deploy_endpoint, poll_until
from tests.support.models import train_digits
from tests.support.users import ROW, assign_users
from turnout.cli.background import BackgroundServer
from turnout.client import Client, TurnoutAPIError, Variant

pytestmark = pytest.mark.e2e

USERS = 400
RAMP = (0.01, 0.05, 0.25, 0.50, 1.0)
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0",
    "Accept": "text/html,application/json;q=0.9",
    "Content-Type": "application/json",
}


@pytest.fixture(scope="module")
def sagemaker(server: BackgroundServer) -> Any:
    return clients(server.url)[0]


def set_weights(sagemaker: Any, client: Client, endpoint: str, weights: dict[str, float]) -> None:
    """UpdateEndpointWeightsAndCapacities, then wait until it is applied (InService)."""
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[
            {"VariantName": v, "DesiredWeight": w} for v, w in weights.items()
        ],
    )
    client.wait_for_endpoint(endpoint, timeout=60)


def test_users_keep_their_variant_and_only_move_into_the_growing_canary(
    deploy: Deploy, artifacts: Artifacts, client: Client, server: BackgroundServer,
    sagemaker: Any, tmp_path: Path,
) -> None:  # fmt: skip
    deploy(
        "ramp",
        [
            VariantOf("primary", artifacts.sklearn, weight=1.0),
            VariantOf("canary", artifacts.sklearn_slow_learner, weight=0.0),
        ],
    )
    before: list[str] | None = None
    at_start = 0
    moved_in = moved_out = 0
    for share in RAMP:
        set_weights(sagemaker, client, "ramp", {"primary": 1 - share, "canary": share})
        # Twice per step: 2 x 400 users x 5 steps = 4,000 requests; nobody may change
        # variant between two passes at the same weights.
        first = assign_users(server.url, "ramp", tmp_path / "a.json", USERS)
        second = assign_users(server.url, "ramp", tmp_path / "b.json", USERS)
        assert first == second, "a user changed variant without any weight change"
        in_canary = first.count("canary")
        low, high = binom.interval(0.999, USERS, share)
        assert low <= in_canary <= high, f"{in_canary} of {USERS} in the canary at {share:.0%}"
        if before is not None:
            moved_out += sum(
                b == "canary" and a != "canary" for b, a in zip(before, first, strict=True)
            )
            moved_in += sum(
                b != "canary" and a == "canary" for b, a in zip(before, first, strict=True)
            )
        else:
            at_start = in_canary
        before = first
    assert moved_out == 0, f"{moved_out} users left the growing canary"
    assert before == ["canary"] * USERS
    assert moved_in == USERS - at_start
    print(f"ramp: {moved_in} users moved into the canary, {moved_out} out")


def test_a_browser_without_a_key_gets_a_cookie_and_keeps_its_variant(
    deploy: Deploy, artifacts: Artifacts, server: BackgroundServer
) -> None:
    deploy(
        "cookies",
        [
            VariantOf("A", artifacts.sklearn, weight=0.5),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.5),
        ],
    )
    url = f"{server.url}/endpoints/cookies/invocations"
    seen: dict[str, set[str]] = {}
    for _ in range(12):
        with httpx.Client(headers=BROWSER, timeout=30) as session:  # keeps its cookies
            first = session.post(url, content=ROW)
            assert first.status_code == 200, first.text
            cookie = first.headers["set-cookie"]
            assert cookie.startswith("turnout_user=")
            for attribute in ("Path=/", "Max-Age=", "SameSite=Lax", "HttpOnly"):
                assert attribute in cookie
            variants = {first.headers["x-amzn-invoked-production-variant"]}
            for _ in range(20):
                again = session.post(url, content=ROW)
                assert "set-cookie" not in again.headers  # it sent the cookie back
                variants.add(again.headers["x-amzn-invoked-production-variant"])
            seen[session.cookies["turnout_user"]] = variants
    assert all(len(v) == 1 for v in seen.values()), seen
    assert len(seen) == 12  # a new id per browser
    # An API caller without a key is assigned per request and gets no cookie.
    plain = httpx.post(url, content=ROW, headers={"Content-Type": "application/json"})
    assert plain.status_code == 200 and "set-cookie" not in plain.headers


def test_targeting_rules_and_key_sources_are_editable_live(
    deploy: Deploy, artifacts: Artifacts, client: Client
) -> None:
    deploy(
        "targets",
        [
            VariantOf("A", artifacts.sklearn, weight=1.0),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.0),
        ],
    )
    row = [[0.0] * 64]
    assert client.invoke("targets", row, user="vip-1").variant == "A"
    settings = client.set_routing(
        "targets",
        rules=[
            {"type": "users", "users": ["vip-1", "vip-2"], "variant": "B"},
            {"type": "header", "header": "X-Country", "operator": "in",
             "values": ["FR", "BE"], "variant": "B"},
        ],
    )  # fmt: skip
    assert settings["rules"][0]["users"] == ["vip-1", "vip-2"]
    for _ in range(20):  # applied on the PUT's answer; B has weight 0 yet gets them
        assert client.invoke("targets", row, user="vip-1").variant == "B"
        assert client.invoke("targets", row, user="someone").variant == "A"
    with httpx.Client(base_url=client.url, timeout=30) as http:
        for country, variant in (("BE", "B"), ("FR", "B"), ("DE", "A")):
            answer = http.post(
                "/endpoints/targets/invocations", content="[" + ",".join(["0.0"] * 64) + "]",
                headers={"Content-Type": "application/json", "X-Country": country},
            )  # fmt: skip
            assert answer.headers["x-amzn-invoked-production-variant"] == variant
        # TargetVariant still wins over the rules.
        forced = http.post(
            "/endpoints/targets/invocations", content="[" + ",".join(["0.0"] * 64) + "]",
            headers={"Content-Type": "application/json", "X-Turnout-User": "vip-1",
                     "X-Amzn-SageMaker-Target-Variant": "A"},
        )  # fmt: skip
        assert forced.headers["x-amzn-invoked-production-variant"] == "A"
    with pytest.raises(TurnoutAPIError) as refused:
        client.set_routing("targets", rules=[{"type": "users", "users": ["x"], "variant": "C"}])
    assert refused.value.status == 400
    assert 'unknown variant "C"' in refused.value.message


def test_the_key_can_come_from_custom_attributes(
    deploy: Deploy, artifacts: Artifacts, client: Client
) -> None:
    deploy(
        "attrs",
        [
            VariantOf("A", artifacts.sklearn, weight=0.5),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.5),
        ],
    )
    client.set_routing("attrs", assignment_key={"custom_attribute": "user"})
    row = [[0.0] * 64]
    for i in range(30):
        by_header = client.invoke("attrs", row, user=f"u{i}").variant
        by_attribute = client.invoke("attrs", row, custom_attributes=f"trace=1;user=u{i}").variant
        assert by_header == by_attribute  # the same key, whichever source carries it
    shown = client.routing("attrs")
    assert shown["assignment_key"] == {
        "header": "X-Turnout-User", "cookie": "turnout_user", "custom_attribute": "user",
    }  # fmt: skip


def test_users_keep_their_variant_across_a_restart(artifacts: Artifacts, tmp_path: Path) -> None:
    """The salt is persisted: a new `turnout serve` on the same store assigns the same."""
    data = tmp_path / "serve"
    seen = []
    for run in range(2):
        with BackgroundServer(data) as server, Client(server.url, timeout=30) as client:
            if run == 0:
                deploy_endpoint(
                    client, "again",
                    [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)],
                )  # fmt: skip
            else:  # InService on disk: wait until its instances answer again
                poll_until(
                    lambda: client.describe_endpoint("again"),
                    lambda e: (
                        all(i["ready"] for v in e["variants"] for i in v["instances"])
                        and all(v["instances"] for v in e["variants"])
                    ),
                    timeout=120,
                    what="instances ready after the restart",
                )
            seen.append(assign_users(server.url, "again", tmp_path / f"{run}.json", 300))
    assert seen[0] == seen[1]
    assert 0 < seen[0].count("A") < 300


def test_during_a_deployment_users_only_move_to_the_new_fleet(
    deploy: Deploy, artifacts: Artifacts, client: Client, server: BackgroundServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Blue and green both serve a variant A (different models, so the answer to one chosen
    row tells the fleet); a LINEAR deployment shifts 25% per step. Each user's passes may go
    blue → green once, never back, and the variant stays A."""
    blue_model, green_model = train_digits(1.0).estimator, train_digits(0.01).estimator
    rows = train_digits().X_test
    blue_labels, green_labels = blue_model.predict(rows), green_model.predict(rows)
    differ = next(i for i in range(len(rows)) if blue_labels[i] != green_labels[i])
    blue_answer = int(blue_labels[differ])
    body = json.dumps([[float(v) for v in rows[differ]]])
    deploy("fleets", [VariantOf("A", artifacts.sklearn)])
    client.create_model("fleets-green", str(artifacts.sklearn_slow_learner))
    client.create_endpoint_config("fleets-green", [Variant("A", "fleets-green")])
    client.update_endpoint(
        "fleets", "fleets-green",
        {"BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR", "WaitIntervalInSeconds": 3,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}},
            "TerminationWaitInSeconds": 0}},
    )  # fmt: skip
    out = tmp_path / "pass.json"
    passes: list[list[bool]] = []  # per pass: each user on green?
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = client.deployments("fleets", limit=1)["current"] is not None
        variants = assign_users(server.url, "fleets", out, 200, body=body, concurrency=8)
        assert set(variants) == {"A"}
        answers = json.loads(out.read_text())["answers"]
        passes.append([json.loads(a)[0] != blue_answer for a in answers])
        if not running:
            break
    assert all(passes[-1]), "the deployment did not finish within 120 s"
    mixed = [p for p in passes if 0 < sum(p) < len(p)]
    assert mixed, "no pass saw both fleets serving"
    back = sum(
        a and not b
        for earlier, later in itertools.pairwise(passes)
        for a, b in zip(earlier, later, strict=True)
    )
    print(f"{len(passes)} passes, green users: {[sum(p) for p in passes]}, back to blue: {back}")
    # Green never looked lost to the controller (a step whose plan a node had not applied
    # yet once did, and sent everyone back to blue for a moment).
    history = client.deployments("fleets", limit=1)["past"][0]["events"]
    assert [e["message"] for e in history if e["kind"] == "interrupted"] == []
    assert back == 0
