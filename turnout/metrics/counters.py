"""What the router counts per production variant, SageMaker's invocation metrics.

The router calls `VariantMetrics.observe` once per invocation, on its event loop: a few
integer increments and two histogram records, no locks (one thread writes). A flusher takes
the current window every period (`take_window`) for the rollups; the cumulative totals that
Prometheus exports are the flushed windows plus the one in progress.
"""

from __future__ import annotations

from turnout.domain.histogram import LatencyHistogram
from turnout.domain.resources import MAX_PIPELINE_CONTAINERS
from turnout.domain.rollups import ModelCacheWindow, VariantKey, Window

# Upper bounds of the batch-size histogram's buckets (requests per predict call).
BATCH_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
MAX_CONTAINERS = MAX_PIPELINE_CONTAINERS


class VariantMetrics:
    __slots__ = ("_flushed", "batches", "containers", "key", "loaded_models", "shadow_dropped",
                 "window")  # fmt: skip

    def __init__(self, key: VariantKey) -> None:
        self.key = key
        self.window = Window()
        self._flushed = Window()
        # Cumulative count of predict calls per BATCH_BOUNDS bucket, and their sizes' sum.
        self.batches = BatchSizes()
        # A shadow variant: copies dropped because its mirroring lane was full (cumulative).
        self.shadow_dropped = 0
        # A multi-model variant: each instance's loaded models, as it last said (ADR 0037).
        self.loaded_models: dict[bytes, int] = {}
        # An inference pipeline: each container's latency, cumulative (ADR 0039); at most
        # MAX_CONTAINERS names, so a misbehaving instance cannot grow it without bound.
        self.containers: dict[str, LatencyHistogram] = {}

    def observe(
        self, status: int, model_error: bool, model_us: float | None, overhead_us: float
    ) -> None:
        """One invocation routed to this variant.

        `status` is the model's HTTP status, or the one turnout answered when the model gave
        none (a 5xx for a timeout or a dead instance, a 4xx for a request refused before it
        reached the model); `model_us` is None when the model never answered.
        """
        window = self.window
        window.invocations += 1
        if status >= 500:
            window.errors_5xx += 1
        elif status >= 400:
            window.errors_4xx += 1
        if model_error:
            window.model_errors += 1
        if model_us is not None:
            window.model_latency.record(model_us)
        window.overhead_latency.record(overhead_us)

    def observe_setup(self, setup_us: float) -> None:
        """One cold start of a serverless instance of this variant (ModelSetupTime)."""
        self.window.model_setup.record(setup_us)

    def observe_container(self, container: str, micros: float) -> None:
        """One pipeline container's time for one invocation of this variant."""
        histogram = self.containers.get(container)
        if histogram is None:
            if len(self.containers) >= MAX_CONTAINERS:
                return
            histogram = self.containers[container] = LatencyHistogram()
        histogram.record(micros)

    def observe_batch(self, size: int) -> None:
        """One predict call of `size` requests on an instance of this variant."""
        self.batches.observe(size)

    def observe_model_cache(
        self, hit: bool, wait_us: float, download_us: float, load_us: float, unload_us: float
    ) -> None:
        """One invocation of a multi-model variant: a cache hit, or a miss with the µs it
        waited for its model and, when it loaded the model itself, what the load took."""
        cache = self.window.model_cache
        if cache is None:
            cache = self.window.model_cache = ModelCacheWindow()
        cache.requests += 1
        if hit:
            cache.hits += 1
            return
        cache.wait.record(wait_us)
        if load_us > 0:  # this request loaded it (the others waited for that load)
            cache.download.record(download_us)
            cache.load.record(load_us)
            if unload_us > 0:
                cache.unload.record(unload_us)

    def note_loaded(self, instance: bytes, count: int) -> None:
        """An instance of a multi-model variant holds `count` models (LoadedModelCount)."""
        self.loaded_models[instance] = count
        cache = self.window.model_cache
        if cache is None:
            cache = self.window.model_cache = ModelCacheWindow()
        cache.loaded_models = sum(self.loaded_models.values())

    def take_window(self) -> Window:
        """The window so far, replaced by a fresh one; it also joins the cumulative totals."""
        taken, self.window = self.window, Window()
        self._flushed.merge(taken)
        return taken

    def totals(self) -> Window:
        """Everything since start: the flushed windows plus the one in progress (a copy)."""
        total = Window()
        total.merge(self._flushed)
        total.merge(self.window)
        return total


class BatchSizes:
    """A cumulative histogram of batch sizes, for Prometheus' `turnout_batch_size`."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(BATCH_BOUNDS)
        self.total = 0  # the sum of the sizes

    def observe(self, size: int) -> None:
        self.total += size
        for i, bound in enumerate(BATCH_BOUNDS):
            if size <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1  # beyond the largest bound: the worker never batches more

    @property
    def count(self) -> int:
        return sum(self.counts)
