"""Metrics and alarms of a real `turnout serve` under load from a second process: the
counts of GET /metrics (Prometheus) and of the metrics API agree exactly with the load
generator's, a model failing 30% of
its requests drives an Invocation5XXErrors alarm to ALARM within seconds (with its history),
a healthy endpoint's alarm goes OK, and bad alarm or metric requests get documented errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from tests.support.load import LoadProcess, LoadResult
from tests.support.models import digits_rows
from tests.support.prometheus import samples
from turnout.cli.background import BackgroundServer
from turnout.client import AlarmInfo, Client, TurnoutAPIError
from turnout.store import Store

pytestmark = pytest.mark.e2e

HEALTHY = "mon-healthy"
FLAKY = "mon-flaky"
ROW = json.dumps(digits_rows(1)[0][0])


@pytest.fixture(scope="module")
def endpoints(deploy: Deploy, artifacts: Artifacts) -> None:
    deploy(
        HEALTHY,
        [
            VariantOf("A", artifacts.sklearn, weight=0.7),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.3),
        ],
    )
    deploy(FLAKY, [VariantOf("only", artifacts.flaky)])


def load(server: BackgroundServer, out: Path, endpoint: str, requests: int) -> LoadResult:
    with LoadProcess(
        out, server.url, endpoint, requests=requests, concurrency=4, duration=120, body=ROW
    ) as process:
        return process.finish(timeout=180)


def invocations_by_variant(client: Client, endpoint: str) -> dict[str, int]:
    summary = client.metrics_summary(endpoint, since=3600)
    counts: dict[str, int] = {}
    for v in summary["variants"]:
        counts[v["variant"]] = counts.get(v["variant"], 0) + int(
            v["metrics"].get("Invocations", {}).get("Sum", 0)
        )
    return counts


def scraped_invocations(server: BackgroundServer, endpoint: str) -> dict[str, int]:
    """turnout_invocations_total of the endpoint's variants, from GET /metrics."""
    counts: dict[str, int] = {}
    for sample in samples(server.url, "turnout_invocations", endpoint):
        if sample.name == "turnout_invocations_total":
            variant = sample.labels["variant"]
            counts[variant] = counts.get(variant, 0) + int(sample.value)
    return {variant: n for variant, n in counts.items() if n}  # routed but idle: no data


def test_prometheus_and_the_metrics_api_count_every_invocation(
    server: BackgroundServer, client: Client, endpoints: None, tmp_path: Path
) -> None:
    before = invocations_by_variant(client, HEALTHY)
    scraped_before = scraped_invocations(server, HEALTHY)
    # The summary may list a variant with no invocations yet; the scrape has no such series.
    assert scraped_before == {v: n for v, n in before.items() if n}
    result = load(server, tmp_path / "load.json", HEALTHY, 1500)
    assert result.ok == 1500, result.describe()
    expected = {v: before.get(v, 0) + n for v, n in result.by_variant.items()}
    poll_until(
        lambda: scraped_invocations(server, HEALTHY),
        lambda counts: counts == expected,
        timeout=10,
        what="the /metrics invocation counts",
    )
    # fresh at once: the open window counts before it is flushed ...
    poll_until(
        lambda: invocations_by_variant(client, HEALTHY),
        lambda counts: counts == expected,
        timeout=10,
        what="the metrics API's invocation counts",
    )
    # ... and still exact once the flusher wrote it (the next period boundary passed)
    series = client.endpoint_metrics(HEALTHY, "Invocations", "Sum", since=3600, variant="A")
    boundary = series["datapoints"][-1]["timestamp"] + series["period"]
    poll_until(
        lambda: client.endpoint_metrics(HEALTHY, "Invocations", "Sum", since=3600, variant="A"),
        lambda s: s["datapoints"][-1]["timestamp"] >= boundary,
        timeout=30,
        what="the next period",
    )
    assert invocations_by_variant(client, HEALTHY) == expected
    assert scraped_invocations(server, HEALTHY) == expected  # flushing keeps the totals
    # the rollups in the server's store (read beside it) hold every invocation
    store = Store.open(f"sqlite:///{server.data_dir / 'turnout.db'}")
    try:
        stored = poll_until(
            lambda: store.list_rollups(HEALTHY, 0),
            lambda rollups: sum(r.window.invocations for r in rollups) == sum(expected.values()),
            timeout=30,
            what="the flushed rollups",
        )
    finally:
        store.close()
    for variant, count in expected.items():
        assert sum(r.window.invocations for r in stored if r.key.variant == variant) == count
    series = client.endpoint_metrics(HEALTHY, "Invocations", "Sum", since=3600, variant="A")
    assert sum(p["value"] or 0 for p in series["datapoints"]) == expected["A"]
    errors = client.endpoint_metrics(HEALTHY, "Invocation5XXErrors", "Sum", since=3600)
    assert all(p["value"] in (None, 0.0) for p in errors["datapoints"])


def create_errors_alarm(client: Client, name: str, endpoint: str) -> AlarmInfo:
    return client.create_alarm(
        name, endpoint, "Invocation5XXErrors", "Average", 0.1, "GreaterThanThreshold"
    )


def test_a_failing_model_trips_its_alarm_and_a_healthy_one_goes_ok(
    server: BackgroundServer, client: Client, endpoints: None, tmp_path: Path
) -> None:
    flaky = create_errors_alarm(client, "flaky-5xx", FLAKY)
    healthy = create_errors_alarm(client, "healthy-5xx", HEALTHY)
    assert flaky["state"] == healthy["state"] == "INSUFFICIENT_DATA"
    with LoadProcess(
        tmp_path / "flaky.json", server.url, FLAKY, concurrency=2, duration=60, body=ROW
    ) as flaky_load, LoadProcess(
        tmp_path / "healthy.json", server.url, HEALTHY, concurrency=2, duration=60, body=ROW
    ) as healthy_load:  # fmt: skip
        alarmed = poll_until(
            lambda: client.describe_alarm("flaky-5xx"),
            lambda a: a["state"] == "ALARM",
            timeout=30,
            what="flaky-5xx in ALARM",
        )
        ok = poll_until(
            lambda: client.describe_alarm("healthy-5xx"),
            lambda a: a["state"] == "OK",
            timeout=30,
            what="healthy-5xx OK",
        )
        flaky_result, healthy_result = flaky_load.stop(), healthy_load.stop()
    assert flaky_result.by_status.get("424", 0) > 0, flaky_result.describe()
    assert healthy_result.failed == 0, healthy_result.describe()
    # The first datapoint may hold only a few requests, so its error rate can be anything
    # above the threshold, up to 1 (all failed).
    crossed = re.fullmatch(
        r"Threshold Crossed: 1 datapoint \[([0-9.]+) \(.+\)\] "
        r"was greater than the threshold \(0\.1\)\.",
        alarmed["reason"],
    )
    assert crossed, alarmed["reason"]
    assert 0.1 < float(crossed.group(1)) <= 1.0, alarmed["reason"]
    assert [(c["old_state"], c["new_state"]) for c in alarmed["history"] or []] == [
        ("INSUFFICIENT_DATA", "ALARM")
    ]
    assert "was not greater than the threshold (0.1)" in ok["reason"]
    assert {a["name"] for a in client.list_alarms(endpoint=FLAKY)} == {"flaky-5xx"}


def test_alarm_requests_that_break_the_rules_get_documented_errors(
    server: BackgroundServer, client: Client, endpoints: None
) -> None:
    create_errors_alarm(client, "dup", HEALTHY)
    with pytest.raises(TurnoutAPIError) as duplicate:
        create_errors_alarm(client, "dup", HEALTHY)
    assert (duplicate.value.status, duplicate.value.code) == (409, "AlreadyExists")
    client.delete_alarm("dup")
    with pytest.raises(TurnoutAPIError) as gone:
        client.describe_alarm("dup")
    assert (gone.value.status, gone.value.code) == (404, "NotFound")

    base = {
        "name": "bad",
        "endpoint": HEALTHY,
        "metric": "Invocation5XXErrors",
        "statistic": "Average",
        "threshold": 0.1,
        "comparison": "GreaterThanThreshold",
    }
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for change, words in [
            ({"period": 15}, "Period must be a multiple of 10"),
            ({"statistic": "p42"}, "Statistic 'p42' is not one of"),
            ({"statistic": "p99"}, "'p99' has no values for Invocation5XXErrors; use one of Sum"),
            ({"period": 3600, "evaluation_periods": 25}, "longer than the metrics are kept"),
            ({"evaluation_periods": 2, "datapoints_to_alarm": 3}, "DatapointsToAlarm"),
            ({"metric": "Latency"}, "metric"),
            ({"comparison": ">"}, "comparison"),
        ]:
            response = http.post("/api/v1/alarms", json={**base, **change})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "ValidationError"
            assert words in response.json()["error"]["message"]
        bad_period = http.get(
            f"/api/v1/endpoints/{HEALTHY}/metrics",
            params={"metric": "Invocations", "statistic": "Sum", "period": 15},
        )
        assert bad_period.status_code == 400, bad_period.text
        unknown = http.get("/api/v1/endpoints/no-such-endpoint/metrics/summary")
        assert unknown.status_code == 404, unknown.text
        paths = http.get("/api/v1/openapi.json").json()["paths"]
    for path in ["/api/v1/alarms", "/api/v1/alarms/{name}", "/api/v1/endpoints/{name}/metrics",
                 "/api/v1/endpoints/{name}/metrics/summary"]:  # fmt: skip
        assert path in paths
