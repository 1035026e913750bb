"""Rollups: one variant's counts over one aligned period, as kept in the store.

A `Window` holds the counts of a period, a `VariantKey` names the variant (SageMaker's
dimensions); the router fills windows (`turnout.metrics.counters`), the flusher turns
them into rollups.

Alarms and the dashboard read statistics over a span of rollups. The statistics follow
CloudWatch's: Sum, SampleCount, Average, Minimum, Maximum, and percentiles p50/p90/p99 for the
latencies; Average of an error count is the error rate (errors per invocation).
CPUUtilization and MemoryUtilization are the instances' mean at each flush (one value per
rollup), with Average/Minimum/Maximum/Sum/SampleCount over those values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from turnout.domain.histogram import LatencyHistogram

PERIOD = 10.0  # seconds per rollup


@dataclass(frozen=True)
class VariantKey:
    """SageMaker's dimensions: EndpointName, VariantName, plus the endpoint config."""

    endpoint: str
    config: str
    variant: str


class ModelCacheWindow:
    """A multi-model variant's model-cache counts over one period (ADR 0037): SageMaker's
    ModelCacheHit (hits of requests), the load timings in µs, and LoadedModelCount (the
    variant's instances' models, as they last said: a gauge, the latest one wins)."""

    __slots__ = ("download", "hits", "load", "loaded_models", "requests", "unload", "wait")

    def __init__(self) -> None:
        self.requests = 0
        self.hits = 0
        self.wait = LatencyHistogram()  # ModelLoadingWaitTime
        self.download = LatencyHistogram()  # ModelDownloadingTime
        self.load = LatencyHistogram()  # ModelLoadingTime
        self.unload = LatencyHistogram()  # ModelUnloadingTime
        self.loaded_models: int | None = None  # LoadedModelCount

    def merge(self, other: ModelCacheWindow) -> None:
        self.requests += other.requests
        self.hits += other.hits
        self.wait.merge(other.wait)
        self.download.merge(other.download)
        self.load.merge(other.load)
        self.unload.merge(other.unload)
        if other.loaded_models is not None:
            self.loaded_models = other.loaded_models


class Window:
    """Counts of one period (or, merged, of all periods so far)."""

    __slots__ = (
        "errors_4xx",
        "errors_5xx",
        "invocations",
        "model_cache",
        "model_errors",
        "model_latency",
        "model_setup",
        "overhead_latency",
    )

    def __init__(self) -> None:
        self.invocations = 0
        # As SageMaker counts them: 4XX/5XX by the status the *model* answered (the caller sees
        # 424 ModelError for both); no answer at all (timeout, dead instance) counts as 5XX.
        self.errors_4xx = 0  # Invocation4XXErrors
        self.errors_5xx = 0  # Invocation5XXErrors
        self.model_errors = 0  # InvocationModelErrors: not 2XX, including no answer
        self.model_latency = LatencyHistogram()  # µs the instance took
        self.overhead_latency = LatencyHistogram()  # µs turnout added around it
        self.model_setup = LatencyHistogram()  # µs each serverless cold start took (ADR 0038)
        self.model_cache: ModelCacheWindow | None = None  # a multi-model variant's

    def merge(self, other: Window) -> None:
        self.invocations += other.invocations
        self.errors_4xx += other.errors_4xx
        self.errors_5xx += other.errors_5xx
        self.model_errors += other.model_errors
        self.model_latency.merge(other.model_latency)
        self.overhead_latency.merge(other.overhead_latency)
        self.model_setup.merge(other.model_setup)
        if other.model_cache is not None:
            if self.model_cache is None:
                self.model_cache = ModelCacheWindow()
            self.model_cache.merge(other.model_cache)

    @property
    def empty(self) -> bool:
        return self.invocations == 0 and self.model_setup.count == 0


class Metric(StrEnum):
    INVOCATIONS = "Invocations"
    INVOCATION_4XX_ERRORS = "Invocation4XXErrors"
    INVOCATION_5XX_ERRORS = "Invocation5XXErrors"
    INVOCATION_MODEL_ERRORS = "InvocationModelErrors"
    INVOCATIONS_PER_INSTANCE = "InvocationsPerInstance"
    MODEL_LATENCY = "ModelLatency"
    OVERHEAD_LATENCY = "OverheadLatency"
    MODEL_SETUP_TIME = "ModelSetupTime"  # a serverless variant's cold starts
    CPU_UTILIZATION = "CPUUtilization"
    MEMORY_UTILIZATION = "MemoryUtilization"
    # Multi-model endpoints' (ADR 0037)
    MODEL_LOADING_WAIT_TIME = "ModelLoadingWaitTime"
    MODEL_UNLOADING_TIME = "ModelUnloadingTime"
    MODEL_DOWNLOADING_TIME = "ModelDownloadingTime"
    MODEL_LOADING_TIME = "ModelLoadingTime"
    MODEL_CACHE_HIT = "ModelCacheHit"
    LOADED_MODEL_COUNT = "LoadedModelCount"


LATENCIES = (Metric.MODEL_LATENCY, Metric.OVERHEAD_LATENCY, Metric.MODEL_SETUP_TIME)
MODEL_TIMES = (
    Metric.MODEL_LOADING_WAIT_TIME,
    Metric.MODEL_UNLOADING_TIME,
    Metric.MODEL_DOWNLOADING_TIME,
    Metric.MODEL_LOADING_TIME,
)
UTILIZATIONS = (Metric.CPU_UTILIZATION, Metric.MEMORY_UTILIZATION)
STATISTICS = ("Sum", "SampleCount", "Average", "Minimum", "Maximum", "p50", "p90", "p99")


def align(epoch: float, period: float = PERIOD) -> float:
    """The start of the period holding `epoch`."""
    return math.floor(epoch / period) * period


@dataclass(frozen=True)
class Rollup:
    key: VariantKey
    start: float  # epoch seconds, a multiple of `period`
    period: float
    instances: int  # instances serving the variant when the period was flushed
    window: Window
    # Mean over those instances of their last sample (% summed over cores; % of memory).
    cpu_percent: float | None = None
    memory_percent: float | None = None


def merged(rollups: Iterable[Rollup]) -> tuple[Window, float]:
    """The rollups' windows added up, and the invocations per instance over them."""
    total = Window()
    per_instance = 0.0
    for rollup in rollups:
        total.merge(rollup.window)
        per_instance += rollup.window.invocations / max(rollup.instances, 1)
    return total, per_instance


def statistic(metric: Metric, name: str, rollups: Iterable[Rollup]) -> float | None:
    """`name` of `metric` over `rollups`; None when there is no data (INSUFFICIENT_DATA).

    Latencies are in microseconds, as SageMaker reports them.
    """
    if name not in STATISTICS:
        raise ValueError(f"unknown statistic {name!r}; use one of {', '.join(STATISTICS)}")
    if metric in UTILIZATIONS:
        return _utilization(metric, name, rollups)
    if metric is Metric.LOADED_MODEL_COUNT:
        return _gauge(name, [r.window.model_cache for r in rollups])
    window, per_instance = merged(rollups)
    if metric is Metric.MODEL_SETUP_TIME:  # one sample per cold start, not per invocation
        return _latency(window.model_setup, name)
    if metric in MODEL_TIMES or metric is Metric.MODEL_CACHE_HIT:
        return _model_cache(metric, name, window.model_cache)
    if window.invocations == 0:
        return None
    if metric in LATENCIES:
        histogram = (
            window.model_latency if metric is Metric.MODEL_LATENCY else window.overhead_latency
        )
        return _latency(histogram, name)
    if metric is Metric.INVOCATIONS_PER_INSTANCE:
        return per_instance if name == "Sum" else None
    count = {
        Metric.INVOCATIONS: window.invocations,
        Metric.INVOCATION_4XX_ERRORS: window.errors_4xx,
        Metric.INVOCATION_5XX_ERRORS: window.errors_5xx,
        Metric.INVOCATION_MODEL_ERRORS: window.model_errors,
    }[metric]
    if name == "Sum":
        return float(count)
    if name == "SampleCount":
        return float(window.invocations)
    if name == "Average":  # per invocation: an error rate for the error counts
        return count / window.invocations
    return None  # Minimum/Maximum/percentiles of a count: not kept per request


def _model_cache(metric: Metric, name: str, cache: ModelCacheWindow | None) -> float | None:
    if cache is None:
        return None
    if metric is Metric.MODEL_CACHE_HIT:  # 1 per hit, 0 per miss, as SageMaker counts it
        if cache.requests == 0:
            return None
        return {
            "Sum": float(cache.hits),
            "SampleCount": float(cache.requests),
            "Average": cache.hits / cache.requests,
            "Minimum": 0.0 if cache.hits < cache.requests else 1.0,
            "Maximum": 1.0 if cache.hits else 0.0,
        }.get(name)
    histogram = {
        Metric.MODEL_LOADING_WAIT_TIME: cache.wait,
        Metric.MODEL_UNLOADING_TIME: cache.unload,
        Metric.MODEL_DOWNLOADING_TIME: cache.download,
        Metric.MODEL_LOADING_TIME: cache.load,
    }[metric]
    return _latency(histogram, name)


def _gauge(name: str, caches: Iterable[ModelCacheWindow | None]) -> float | None:
    values = [c.loaded_models for c in caches if c is not None and c.loaded_models is not None]
    return _summary(name, [float(v) for v in values])


def _utilization(metric: Metric, name: str, rollups: Iterable[Rollup]) -> float | None:
    field = "cpu_percent" if metric is Metric.CPU_UTILIZATION else "memory_percent"
    values = [v for v in (getattr(r, field) for r in rollups) if v is not None]
    return _summary(name, values)


def _summary(name: str, values: list[float]) -> float | None:
    if not values:
        return None
    return {
        "Average": sum(values) / len(values),
        "Minimum": min(values),
        "Maximum": max(values),
        "Sum": sum(values),
        "SampleCount": float(len(values)),
    }.get(name)  # percentiles of a per-period mean: not kept


def _latency(histogram: LatencyHistogram, name: str) -> float | None:
    if histogram.count == 0:
        return None
    if name == "Average":
        return histogram.mean
    if name == "SampleCount":
        return float(histogram.count)
    if name == "Sum":
        return histogram.total
    if name == "Maximum":
        return histogram.maximum
    if name == "Minimum":
        return histogram.quantile(1 / histogram.count)
    return histogram.quantile(int(name[1:]) / 100)
