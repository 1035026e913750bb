"""The Prometheus collector: cumulative counts that survive flushing, latency histograms in
seconds with fixed `le` buckets, one series per endpoint, fleet and variant."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from turnout.domain.rollups import VariantKey
from turnout.metrics.prometheus import BUCKETS, RouterCollector
from turnout.routing.router import Router, RouterLimits

A = VariantKey("ep", "blue", "A")
GREEN_A = VariantKey("ep", "green", "A")


def scrape(router: Router) -> dict[str, list]:  # type: ignore[type-arg]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(router))
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(samples, name: str, key: VariantKey, **extra: str) -> float:  # type: ignore[no-untyped-def]
    labels = {"endpoint": key.endpoint, "config": key.config, "variant": key.variant, **extra}
    [found] = [s.value for s in samples if s.name == name and s.labels == labels]
    return float(found)


def test_counts_are_cumulative_across_flushes_and_split_by_fleet() -> None:
    router = Router(RouterLimits(), "123456789012")
    blue, green = router._metrics(A), router._metrics(GREEN_A)
    for status in [200, 200, 404, 500, 502]:
        blue.observe(status, status != 200, 2000.0 if status != 502 else None, 100.0)
    blue.take_window()  # a flush must not reset what Prometheus sees
    blue.observe(200, False, 2000.0, 100.0)
    green.observe(503, True, 1000.0, 100.0)
    families = scrape(router)
    invocations = families["turnout_invocations"]
    assert value(invocations, "turnout_invocations_total", A) == 6
    assert value(invocations, "turnout_invocations_total", GREEN_A) == 1
    errors = families["turnout_invocation_5xx_errors"]
    assert value(errors, "turnout_invocation_5xx_errors_total", A) == 2
    four = families["turnout_invocation_4xx_errors"]
    assert value(four, "turnout_invocation_4xx_errors_total", A) == 1
    model_errors = families["turnout_invocation_model_errors"]
    assert value(model_errors, "turnout_invocation_model_errors_total", A) == 3


def test_latencies_are_histograms_in_seconds() -> None:
    router = Router(RouterLimits(), "123456789012")
    metrics = router._metrics(A)
    for micros in [300.0, 3000.0, 3000.0, 40_000.0, 200_000_000.0]:  # the last: over 60 s
        metrics.observe(200, False, micros, 50.0)
    samples = scrape(router)["turnout_model_latency_seconds"]
    name = "turnout_model_latency_seconds_bucket"
    buckets = [value(samples, name, A, le=str(float(b))) for b in BUCKETS]
    assert buckets == sorted(buckets)  # cumulative
    assert value(samples, name, A, le="0.0005") == 1
    assert value(samples, name, A, le="0.005") == 3
    assert value(samples, name, A, le="0.05") == 4
    assert value(samples, name, A, le="60.0") == 4
    assert value(samples, name, A, le="+Inf") == 5
    assert value(samples, "turnout_model_latency_seconds_count", A) == 5
    assert abs(value(samples, "turnout_model_latency_seconds_sum", A) - 200.0463) < 1e-6
    overhead = scrape(router)["turnout_overhead_latency_seconds"]
    assert value(overhead, "turnout_overhead_latency_seconds_count", A) == 5
