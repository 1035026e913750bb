"""The router's counters in Prometheus' terms: a collector over the `metrics` totals of a
router (a `CounterSource`).

Counters and histograms carry the labels endpoint, config (the fleet) and variant. Totals
are cumulative since the process started (flushing a window does not reset them); a
variant's series disappears once its counters are dropped, some time after it stopped
being routed, which Prometheus reads as the end of that series.

Latencies are exported in seconds with fixed `le` buckets. The log-bucket histograms they
come from have 8 buckets per doubling: a value is counted under `le` once its whole log
bucket lies below it, so a bound can under-count values within ~9% below it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from turnout.domain.histogram import LatencyHistogram
from turnout.domain.rollups import ModelCacheWindow
from turnout.instances.backend import Instance, InstanceSpec
from turnout.metrics.counters import BATCH_BOUNDS, BatchSizes
from turnout.metrics.source import CounterSource

LABELS = ("endpoint", "config", "variant")
INSTANCE_LABELS = (*LABELS, "instance_id")
# seconds: from half a millisecond (a fast model) to the default model timeout
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
           10.0, 30.0, 60.0)  # fmt: skip
_BOUNDS_US = [b * 1e6 for b in BUCKETS]
_COUNTERS = (
    ("turnout_invocations", "Invocations routed to the variant (SageMaker Invocations).",
     "invocations"),
    ("turnout_invocation_4xx_errors", "Invocations the model answered with a 4xx "
     "(SageMaker Invocation4XXErrors).", "errors_4xx"),
    ("turnout_invocation_5xx_errors", "Invocations the model answered with a 5xx or not at "
     "all (SageMaker Invocation5XXErrors).", "errors_5xx"),
    ("turnout_invocation_model_errors", "Invocations without a 2xx from the model "
     "(SageMaker InvocationModelErrors).", "model_errors"),
)  # fmt: skip


class RouterCollector(Collector):
    def __init__(self, router: CounterSource) -> None:
        self._router = router

    def collect(self) -> Iterator[Metric]:
        counters = [CounterMetricFamily(name, text, labels=LABELS) for name, text, _ in _COUNTERS]
        model = HistogramMetricFamily(
            "turnout_model_latency_seconds",
            "Time the model took to answer (SageMaker ModelLatency).",
            labels=LABELS,
        )
        overhead = HistogramMetricFamily(
            "turnout_overhead_latency_seconds",
            "Time turnout added around the model (SageMaker OverheadLatency).",
            labels=LABELS,
        )
        setup = HistogramMetricFamily(
            "turnout_model_setup_time_seconds",
            "Cold starts of a serverless variant's instances on this node, from start to "
            "ready (SageMaker ModelSetupTime).",
            labels=LABELS,
        )
        batches = HistogramMetricFamily(
            "turnout_batch_size",
            "Requests per predict call on the variant's instances (adaptive batching); "
            "counted by the router from the instances' answers.",
            labels=LABELS,
        )
        containers = HistogramMetricFamily(
            "turnout_pipeline_container_seconds",
            "Time each container of an inference pipeline took (ADR 0039); the variant's "
            "ModelLatency covers them all.",
            labels=(*LABELS, "container"),
        )
        shadows = GaugeMetricFamily(
            "turnout_shadow_variant",
            "1 for each shadow variant: its invocations are copies of production's requests, "
            "never answered to a caller.",
            labels=LABELS,
        )
        dropped = CounterMetricFamily(
            "turnout_shadow_copies_dropped",
            "Copies not sent to a shadow variant because its lane was full.",
            labels=LABELS,
        )
        for key in sorted(
            self._router.shadow_keys(), key=lambda k: (k.endpoint, k.config, k.variant)
        ):
            shadows.add_metric([key.endpoint, key.config, key.variant], 1)
        cache = _ModelCacheFamilies()
        for key, metrics in list(self._router.metrics.items()):
            labels = [key.endpoint, key.config, key.variant]
            if metrics.shadow_dropped:
                dropped.add_metric(labels, metrics.shadow_dropped)
            totals = metrics.totals()
            for family, (_, _, field) in zip(counters, _COUNTERS, strict=True):
                family.add_metric(labels, getattr(totals, field))
            _add_histogram(model, labels, totals.model_latency)
            _add_histogram(overhead, labels, totals.overhead_latency)
            if totals.model_setup.count:
                _add_histogram(setup, labels, totals.model_setup)
            if metrics.batches.count:
                _add_batch_sizes(batches, labels, metrics.batches)
            if totals.model_cache is not None:
                cache.add(labels, totals.model_cache)
            for container, histogram in list(metrics.containers.items()):
                _add_histogram(containers, [*labels, container], histogram)
        yield from counters
        yield model
        yield overhead
        yield setup
        yield batches
        yield containers
        yield shadows
        yield dropped
        yield from cache.families()


class _ModelCacheFamilies:
    """A multi-model variant's model-cache metrics, SageMaker's names in Prometheus' form."""

    def __init__(self) -> None:
        self.requests = CounterMetricFamily(
            "turnout_model_cache_requests",
            "Invocations of a multi-model variant (ModelCacheHit's SampleCount).",
            labels=LABELS,
        )
        self.hits = CounterMetricFamily(
            "turnout_model_cache_hits",
            "Invocations whose model was loaded already (ModelCacheHit's Sum).",
            labels=LABELS,
        )
        self.times = [
            HistogramMetricFamily(name, text, labels=LABELS)
            for name, text in (
                ("turnout_model_loading_wait_seconds", "A missed model's wait for its load "
                 "(ModelLoadingWaitTime)."),
                ("turnout_model_downloading_seconds", "Fetching a model (ModelDownloadingTime)."),
                ("turnout_model_loading_seconds", "Loading a fetched model (ModelLoadingTime)."),
                ("turnout_model_unloading_seconds", "Unloading models to stay in the budget "
                 "(ModelUnloadingTime)."),
            )
        ]  # fmt: skip
        self.loaded = GaugeMetricFamily(
            "turnout_loaded_model_count",
            "Models loaded on the variant's instances, as they last said (LoadedModelCount).",
            labels=LABELS,
        )

    def add(self, labels: list[str], cache: ModelCacheWindow) -> None:
        self.requests.add_metric(labels, cache.requests)
        self.hits.add_metric(labels, cache.hits)
        for family, histogram in zip(
            self.times, (cache.wait, cache.download, cache.load, cache.unload), strict=True
        ):
            _add_histogram(family, labels, histogram)
        if cache.loaded_models is not None:
            self.loaded.add_metric(labels, cache.loaded_models)

    def families(self) -> Iterator[Metric]:
        yield self.requests
        yield self.hits
        yield from self.times
        yield self.loaded


class InstanceCollector(Collector):
    """Each instance's last CPU and memory sample (SageMaker's CPUUtilization and
    MemoryUtilization, per instance) as 0-1 ratios, labelled like the router's series plus
    `instance_id` (`instance` is the label Prometheus gives the scrape target)."""

    def __init__(
        self, instances: Callable[[], Sequence[Instance]], cores: int | None = None
    ) -> None:
        self._instances = instances
        self._cores = cores or os.cpu_count() or 1

    def collect(self) -> Iterator[Metric]:
        labels = INSTANCE_LABELS
        cpu = GaugeMetricFamily(
            "turnout_instance_cpu_utilization_ratio",
            "CPU of the instance's processes as a share of the machine's cores (0-1); "
            "SageMaker's CPUUtilization is this times 100 times the number of cores.",
            labels=labels,
        )
        memory = GaugeMetricFamily(
            "turnout_instance_memory_utilization_ratio",
            "RSS of the instance's processes as a share of the machine's memory (0-1) "
            "(SageMaker's MemoryUtilization / 100).",
            labels=labels,
        )
        rss = GaugeMetricFamily(
            "turnout_instance_memory_bytes", "RSS of the instance's processes.", labels=labels
        )
        ready = GaugeMetricFamily(
            "turnout_instance_ready", "1 while the instance takes traffic.", labels=labels
        )
        for instance in self._instances():
            values = _instance_values(instance.spec)
            ready.add_metric(values, 1.0 if instance.ready else 0.0)
            if instance.usage:
                last = instance.usage[-1]
                cpu.add_metric(values, last.cpu_percent / 100 / self._cores)
                memory.add_metric(values, last.memory_percent / 100)
                rss.add_metric(values, float(last.memory_bytes))
        yield from (cpu, memory, rss, ready)


class Ejection(Protocol):
    """One instance's outlier ejections (turnout.routing.router.Ejections)."""

    @property
    def spec(self) -> InstanceSpec: ...

    @property
    def total(self) -> int: ...

    @property
    def ejected(self) -> bool: ...


class EjectionCollector(Collector):
    """Outlier ejection (ADR 0034) per instance the router routes to, labelled as the
    instance gauges; `now` gives the router's clock (perf_counter)."""

    def __init__(
        self, ejections: Callable[[float], Sequence[Ejection]], now: Callable[[], float]
    ) -> None:
        self._ejections = ejections
        self._now = now

    def collect(self) -> Iterator[Metric]:
        labels = INSTANCE_LABELS
        total = CounterMetricFamily(
            "turnout_instance_ejections",
            "Times outlier detection took the instance out of its variant's rotation "
            "(failures in a row, or latency far above its siblings').",
            labels=labels,
        )
        ejected = GaugeMetricFamily(
            "turnout_instance_ejected",
            "1 while the instance is ejected as an outlier (sum it for a variant's count).",
            labels=labels,
        )
        for found in self._ejections(self._now()):
            values = _instance_values(found.spec)
            total.add_metric(values, float(found.total))
            ejected.add_metric(values, 1.0 if found.ejected else 0.0)
        yield from (total, ejected)


def _instance_values(spec: InstanceSpec) -> list[str]:
    return [spec.endpoint, spec.fleet, spec.variant, str(spec.index)]


def _add_batch_sizes(family: HistogramMetricFamily, labels: list[str], sizes: BatchSizes) -> None:
    buckets = [
        (str(bound), float(n))
        for bound, n in zip(BATCH_BOUNDS, accumulate(sizes.counts), strict=True)
    ]
    buckets.append(("+Inf", float(sizes.count)))
    family.add_metric(labels, buckets, sum_value=float(sizes.total))


def _add_histogram(
    family: HistogramMetricFamily, labels: list[str], histogram: LatencyHistogram
) -> None:
    cumulative = histogram.cumulative(_BOUNDS_US)
    buckets = [(floatToGoString(b), float(n)) for b, n in zip(BUCKETS, cumulative, strict=True)]
    buckets.append(("+Inf", float(histogram.count)))
    family.add_metric(labels, buckets, sum_value=histogram.total / 1e6)
