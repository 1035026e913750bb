"""A text scrape of a real `turnout serve` with traffic, a deployment and an alarm parses
with prometheus_client, carries no label named `instance` of turnout's own (Prometheus
sets it to the scrape target), and has the weight, phase and alarm gauges with the values
the control plane holds; a fleet that is gone has no weight series at the next scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Artifacts
from tests.e2e.test_deployments import add_green, canary, finished
from tests.support.endpoints import VariantOf, deploy_endpoint, poll_until
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

NAME = "scraped"
ROWS, LABELS = digits_rows(1)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of GET /metrics by (name, labels); parsing must not fail."""
    text = httpx.get(url + "/metrics", timeout=30).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


@pytest.fixture(scope="module")
def baking(client: Client, artifacts: Artifacts, server: BackgroundServer) -> Iterator[str]:
    """NAME mid-deployment: green (variant B) baking at a 50% canary for long enough."""
    deploy_endpoint(client, NAME, [VariantOf("A", artifacts.sklearn)])
    for _ in range(20):
        answer = httpx.post(f"{server.url}/endpoints/{NAME}/invocations", json=ROWS, timeout=30)
        assert answer.status_code == 200
    client.create_alarm(
        f"{NAME}-busy", NAME, "Invocations", "Sum", 5, "GreaterThanThreshold",
        treat_missing_data="breaching",
    )  # fmt: skip
    green = add_green(client, NAME, "B", artifacts.sklearn)
    client.update_endpoint(NAME, green, canary(50, bake=600))
    poll_until(
        lambda: client.deployments(NAME, limit=1)["current"],
        lambda d: d is not None and d["phase"] == "Baking",
        120,
        f"{NAME}: green baking",
    )
    yield green


def test_the_scrape_parses_and_has_no_instance_label(server: BackgroundServer, baking: str) -> None:
    samples = scrape(server.url)
    turnout = {labels for (name, labels) in samples if name.startswith("turnout_")}
    assert turnout, "no turnout series"
    assert all("instance" not in dict(labels) for labels in turnout)
    ids = {dict(labels).get("instance_id") for labels in turnout} - {None}
    assert ids >= {"1"}, "instance gauges carry instance_id"
    invocations = value(
        samples, "turnout_invocations_total", endpoint=NAME, config=f"{NAME}-config", variant="A"
    )
    assert invocations is not None and invocations >= 20


def test_utilization_is_a_ratio(server: BackgroundServer, baking: str) -> None:
    def memory() -> dict[frozenset[tuple[str, str]], float]:
        return named(scrape(server.url), "turnout_instance_memory_utilization_ratio")

    found = poll_until(memory, bool, 30, "memory ratios")  # sampled on health checks
    assert all(0 < v < 1 for v in found.values()), found
    cpu = named(scrape(server.url), "turnout_instance_cpu_utilization_ratio")
    assert cpu and all(0 <= v <= 1 for v in cpu.values()), cpu
    assert not any(name.endswith("_percent") for name, _ in scrape(server.url))


def test_weights_per_fleet_current_and_desired(server: BackgroundServer, baking: str) -> None:
    blue = {"endpoint": NAME, "config": f"{NAME}-config", "variant": "A"}
    green = {"endpoint": NAME, "config": baking, "variant": "B"}
    samples = scrape(server.url)
    for name in ("turnout_variant_weight", "turnout_variant_desired_weight"):
        assert value(samples, name, **blue) == pytest.approx(0.5), name
        assert value(samples, name, **green) == pytest.approx(0.5), name
        assert len(named(samples, name)) == 2, named(samples, name)


def test_the_deployment_phase_and_step(server: BackgroundServer, baking: str) -> None:
    samples = scrape(server.url)
    phases = {dict(k)["phase"]: v for k, v in named(samples, "turnout_deployment_phase").items()}
    assert phases["Baking"] == 1
    assert sum(phases.values()) == 1 and len(phases) >= 8, phases
    info = named(samples, "turnout_deployment_info")
    [labels] = info
    assert dict(labels)["green_config"] == baking
    assert dict(labels)["blue_config"] == f"{NAME}-config"
    assert value(samples, "turnout_deployment_step", endpoint=NAME) == 1
    assert value(samples, "turnout_deployment_steps", endpoint=NAME) == 2
    assert value(samples, "turnout_deployment_started_timestamp_seconds", endpoint=NAME)


def test_the_alarm_state_and_threshold(
    server: BackgroundServer, client: Client, baking: str
) -> None:
    alarm = f"{NAME}-busy"

    def states() -> dict[str, float]:
        found = named(scrape(server.url), "turnout_alarm_state")
        return {dict(k)["state"]: v for k, v in found.items() if dict(k)["alarm"] == alarm}

    # evaluated every period: INSUFFICIENT_DATA at first, then ALARM (missing = breaching)
    seen = poll_until(states, lambda s: s.get("ALARM") == 1, 90, f"{alarm} in ALARM")
    assert seen == {"OK": 0, "ALARM": 1, "INSUFFICIENT_DATA": 0}
    assert client.describe_alarm(alarm)["state"] == "ALARM"
    threshold: dict[str, Any] = {
        "alarm": alarm, "endpoint": NAME, "metric": "Invocations", "statistic": "Sum",
        "comparison": "GreaterThanThreshold",
    }  # fmt: skip
    assert value(scrape(server.url), "turnout_alarm_threshold", **threshold) == 5


def test_a_retired_fleet_leaves_the_scrape(
    server: BackgroundServer, client: Client, baking: str
) -> None:
    client.request_deployment(NAME, "rollback")
    assert finished(client, NAME)["phase"] == "RolledBack"
    green = {"endpoint": NAME, "config": baking, "variant": "B"}
    samples = poll_until(
        lambda: scrape(server.url),
        lambda s: (
            value(s, "turnout_variant_weight", **green) is None
            and value(s, "turnout_variant_desired_weight", **green) is None
        ),
        60,
        "the green fleet's weight series gone",
    )
    blue = {"endpoint": NAME, "config": f"{NAME}-config", "variant": "A"}
    assert value(samples, "turnout_variant_weight", **blue) == 1
    assert value(samples, "turnout_deployment_phase", endpoint=NAME, phase="RolledBack") == 1
    client.delete_alarm(f"{NAME}-busy")
    gone = named(scrape(server.url), "turnout_alarm_threshold")
    assert all(dict(k)["alarm"] != f"{NAME}-busy" for k in gone)
