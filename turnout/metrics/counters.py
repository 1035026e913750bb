"""What the router counts per production variant, SageMaker's invocation metrics.

The router calls `VariantMetrics.observe` once per invocation, on its event loop: a few
integer increments and two histogram records, no locks (one thread writes). A flusher takes
the current window every period (`take_window`) for the rollups; the cumulative totals that
Prometheus exports are the flushed windows plus the one in progress.
"""

from __future__ import annotations

from turnout.domain.rollups import VariantKey, Window


class VariantMetrics:
    __slots__ = ("_flushed", "key", "window")

    def __init__(self, key: VariantKey) -> None:
        self.key = key
        self.window = Window()
        self._flushed = Window()

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
