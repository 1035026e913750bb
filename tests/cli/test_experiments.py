"""`turnout routing`, `turnout feedback` and `turnout experiment` against a real server:
set the key and rules, send feedback (one event and a JSON-lines file), create, report
(table, JSON, CSV), list and stop an experiment; mistakes print one error line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.cli.test_commands import as_json, fails, turnout
from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from turnout.cli.background import BackgroundServer
from turnout.client import Client

from .conftest import plain

pytestmark = pytest.mark.e2e

ROW = [[0.0] * 64]


@pytest.fixture(scope="module")
def endpoint(deploy: Deploy, artifacts: Artifacts) -> str:
    deploy(
        "cli-ab",
        [
            VariantOf("A", artifacts.sklearn, weight=0.5),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.5),
        ],
    )
    return "cli-ab"


def test_routing_show_and_set(endpoint: str, server: BackgroundServer, tmp_path: Path) -> None:
    shown = plain(turnout(server, "routing", "show", endpoint).stdout)
    assert "header X-Turnout-User" in shown and "cookie turnout_user" in shown
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"type": "users", "users": ["vip"], "variant": "B"}]))
    out = plain(
        turnout(server, "routing", "set", endpoint, "--rules", str(rules), "--no-cookie").stdout
    )
    assert "user in [vip]" in out and "cookie" not in out.splitlines()[0]
    settings = as_json(server, "routing", "show", endpoint)
    assert settings["assignment_key"]["cookie"] is None
    assert settings["rules"][0]["variant"] == "B"
    assert "nothing to change" in fails(server, "routing", "set", endpoint)
    rules.write_text(json.dumps([{"type": "users", "users": ["x"], "variant": "Z"}]))
    assert 'unknown variant "Z"' in fails(server, "routing", "set", endpoint, "--rules", str(rules))
    rules.write_text("[]")
    turnout(server, "routing", "set", endpoint, "--rules", str(rules), "--cookie", "turnout_user")


def test_targeting_rules_are_added_and_removed_by_number(
    endpoint: str, server: BackgroundServer, client: Client
) -> None:
    turnout(server, "routing", "target", endpoint, "B", "--users", "alice, bob")
    out = plain(
        turnout(server, "routing", "target", endpoint, "A", "--header", "X-Country=FR,BE").stdout
    )
    assert (
        "1 │ user in [alice, bob]" in out and "2 │ x-country in [BE, FR]" in out
    )  # names: lower case
    turnout(server, "routing", "target", endpoint, "A", "--users", "bob", "--first")
    rules = as_json(server, "routing", "show", endpoint)["rules"]
    assert [(r["type"], r["variant"]) for r in rules] == [
        ("users", "A"), ("users", "B"), ("header", "A"),
    ]  # fmt: skip
    # The router follows them: bob matches the first rule, alice the second, FR the third.
    row = [[0.0] * 64]
    assert client.invoke(endpoint, row, user="bob").variant == "A"
    assert client.invoke(endpoint, row, user="alice").variant == "B"
    for _ in range(20):  # not by chance: every request from FR
        answer = httpx.post(
            f"{server.url}/endpoints/{endpoint}/invocations",
            json=row, headers={"X-Country": "FR"}, timeout=30,
        )  # fmt: skip
        assert answer.headers["x-Amzn-Invoked-Production-Variant"] == "A"
    turnout(server, "routing", "untarget", endpoint, "1")
    assert client.invoke(endpoint, row, user="bob").variant == "B"
    assert "has 2 targeting rules" in fails(server, "routing", "untarget", endpoint, "3")
    assert "exactly one of --users and --header" in fails(
        server, "routing", "target", endpoint, "A"
    )
    assert "HEADER=VALUE" in fails(server, "routing", "target", endpoint, "A", "--header", "FR")
    assert 'unknown variant "Z"' in fails(
        server, "routing", "target", endpoint, "Z", "--users", "x"
    )
    client.set_routing(endpoint, rules=[])


def test_experiment_from_feedback_to_report(
    endpoint: str, server: BackgroundServer, client: Client, tmp_path: Path
) -> None:
    turnout(
        server, "experiment", "create", endpoint, "cli-exp", "--variants", "A,B",
        "--control", "A", "--metric", "converted", "--guardrail", "basket:numeric",
        "--minimum-sample", "100",
    )  # fmt: skip
    variants = {f"u{i}": client.invoke(endpoint, ROW, user=f"u{i}").variant for i in range(300)}
    rng = np.random.default_rng(1)
    lines = [
        json.dumps({"metric": "converted", "value": 1, "user": user})
        for user, variant in variants.items()
        if rng.random() < (0.1 if variant == "A" else 0.6)
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    out = turnout(server, "feedback", endpoint, "--file", str(events)).stdout
    assert f"{len(lines):,} feedback events recorded" in out
    turnout(server, "feedback", endpoint, "--user", "u0", "--metric", "basket", "--value", "12.5")
    assert "one of --user" in fails(server, "feedback", endpoint, "--metric", "m", "--value", "1")

    report = poll_until(
        lambda: as_json(server, "experiment", "report", endpoint, "cli-exp"),
        lambda r: sum(r["users"].values()) == 300,
        timeout=30,
        what="300 users in the report",
    )
    assert report["decision"]["verdict"] == "winner"
    csv_file = tmp_path / "report.csv"
    table = plain(
        turnout(server, "experiment", "report", endpoint, "cli-exp", "--csv", str(csv_file)).stdout
    )
    for expected in ("converted (primary", "basket (guardrail", "A (control)", "p seq.",
                     "decision: B wins on converted", "expected 50.0% / 50.0%",
                     "intervals are confidence sequences", "counted: randomized users",
                     "converted: all exposed users"):  # fmt: skip
        assert expected in " ".join(table.split()), table
    assert csv_file.read_text().startswith("metric,role,variant,users")
    listed = plain(turnout(server, "experiment", "list", endpoint).stdout)
    assert "cli-exp" in listed and "running" in listed
    assert as_json(server, "experiment", "stop", endpoint, "cli-exp")["status"] == "stopped"
    assert "stopped already" in fails(server, "experiment", "stop", endpoint, "cli-exp")


def test_experiment_metrics_can_be_given_as_json(endpoint: str, server: BackgroundServer) -> None:
    ratio = '{"name": "aov", "kind": "ratio", "numerator": "revenue", "denominator": "orders"}'
    capped = '{"name": "revenue", "kind": "numeric", "window": 86400, "cap": {"percentile": 0.99}}'
    created = as_json(
        server, "experiment", "create", endpoint, "cli-metrics", "--variants", "A,B",
        "--control", "A", "--metric", ratio, "--guardrail", capped,
    )  # fmt: skip
    definition = created["definition"]
    assert definition["primary"] == {
        "name": "aov", "kind": "ratio", "direction": "higher", "window": None,
        "numerator": "revenue", "denominator": "orders",
    }  # fmt: skip
    assert definition["guardrails"][0]["cap"] == {"percentile": 0.99}
    assert definition["guardrails"][0]["over"] == "exposed"
    report = as_json(server, "experiment", "report", endpoint, "cli-metrics")
    assert [m["users"] for m in report["assumptions"]["metrics"]] == [
        "all exposed users (no event: 0 in both sums)", "all exposed users (no event: 0)",
    ]  # fmt: skip
    assert 'give "numerator" and "denominator"' in fails(
        server, "experiment", "create", endpoint, "bad", "--variants", "A,B", "--control", "A",
        "--metric", '{"name": "aov", "kind": "ratio"}',
    )  # fmt: skip
    assert "not valid JSON" in fails(
        server, "experiment", "create", endpoint, "bad", "--variants", "A,B", "--control", "A",
        "--metric", "{name",
    )  # fmt: skip
