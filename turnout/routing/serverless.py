"""A serverless variant's concurrency gate and idle decision (ADR 0038). Pure: no I/O.

The router holds one gate per serverless variant (endpoint, config, variant) for as long as
it routes it: at most `limit` of its requests are in flight on this node, the next is
throttled. The gate also remembers when the variant was last busy, so that the node agent
can tell when its on-demand instance has been idle long enough to stop. Only the router's
event loop touches a gate; the agent reads it on the same loop.
"""

from __future__ import annotations


class ConcurrencyGate:
    __slots__ = ("in_flight", "last_busy", "limit")

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit  # SageMaker's MaxConcurrency
        self.in_flight = 0
        self.last_busy = now  # monotonic time a request last entered or left

    def enter(self, now: float) -> bool:
        """Let one request in, or refuse it (False: throttle) when `limit` are in flight."""
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        self.last_busy = now
        return True

    def leave(self, now: float) -> None:
        """One request let in by `enter` is done (answered, failed or cancelled)."""
        self.in_flight -= 1
        self.last_busy = now


def idle(in_flight: int, last_busy: float, now: float, idle_time: float) -> bool:
    """Whether an on-demand instance may stop: no request in flight, none for `idle_time`."""
    return in_flight == 0 and now - last_busy >= idle_time
