"""The mirror: sampling, bounded lanes that drop and count, pairs after the answer."""

from __future__ import annotations

import asyncio

from turnout.domain.rollups import VariantKey
from turnout.metrics.counters import VariantMetrics
from turnout.routing.dispatch import DispatchError, Failure
from turnout.routing.invocation import Invocation
from turnout.routing.shadow import Answer, Mirror, Pair
from turnout.routing.table import VariantRoute
from turnout.routing.upstream import UpstreamResponse


class Sink:
    def __init__(self) -> None:
        self.pairs: list[Pair] = []
        self.drops = 0

    def pair(self, pair: Pair) -> None:
        self.pairs.append(pair)

    def dropped(self, endpoint: str, config: str, variant: str, shadow: str) -> None:
        self.drops += 1


def _routes(sampling: float) -> tuple[VariantRoute, VariantRoute]:
    source = VariantRoute("cfg", "main", (), VariantMetrics(VariantKey("e", "cfg", "main")))
    shadow = VariantRoute(
        "cfg", "cand", (), VariantMetrics(VariantKey("e", "cfg", "cand")), sampling=sampling
    )
    source.shadows = (shadow,)
    return source, shadow


def _invocation() -> Invocation:
    return Invocation("e", None, [], [], b"[0]", 0.0)


PRODUCTION = Answer(200, b"[1]", b"application/json", 800.0)


def _failure(exc: BaseException) -> tuple[int, bytes, float | None] | None:
    if isinstance(exc, DispatchError):
        return exc.status, exc.message.encode(), exc.model_us
    return None


def test_a_full_lane_drops_copies_and_counts_them() -> None:
    async def scenario() -> tuple[int, int, Sink, VariantRoute]:
        release = asyncio.Event()
        sent = 0

        async def forward(
            endpoint: str, route: VariantRoute, head: bytes, body: bytes
        ) -> tuple[UpstreamResponse, float]:
            nonlocal sent
            sent += 1
            await release.wait()  # a shadow that answers only when told
            return UpstreamResponse(200, [(b"content-type", b"application/json")], b"[2]"), 900.0

        sink = Sink()
        mirror = Mirror(forward, _failure, sink, max_copies=10, senders=2)
        source, shadow = _routes(1.0)
        for _ in range(1000):
            mirror.offer(_invocation(), source, PRODUCTION)
        await asyncio.sleep(0.01)
        in_flight = sent
        release.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(sink.pairs) == 10:
                break
        await mirror.close()
        return in_flight, mirror.dropped, sink, shadow

    in_flight, dropped, sink, shadow = asyncio.run(scenario())
    assert in_flight == 2  # at most `senders` copies in flight
    assert dropped == 990 == sink.drops == shadow.metrics.shadow_dropped
    assert len(sink.pairs) == 10
    assert sink.pairs[0].mirrored == Answer(200, b"[2]", b"application/json", 900.0)
    assert sink.pairs[0].production is PRODUCTION
    assert shadow.metrics.window.invocations == 10


def test_copies_follow_the_sampling_share_and_failures_are_counted() -> None:
    async def scenario() -> tuple[Sink, VariantRoute]:
        async def forward(
            endpoint: str, route: VariantRoute, head: bytes, body: bytes
        ) -> tuple[UpstreamResponse, float]:
            raise DispatchError(Failure.MODEL_ERROR, "boom", status=500, model_us=100.0)

        sink = Sink()
        mirror = Mirror(forward, _failure, sink)
        source, shadow = _routes(0.3)
        for _ in range(4000):
            mirror.offer(_invocation(), source, PRODUCTION)
            await asyncio.sleep(0)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not any(lane.copies for lane in mirror._lanes.values()):
                break
        await mirror.close()
        return sink, shadow

    sink, shadow = asyncio.run(scenario())
    n = len(sink.pairs)
    # Binomial(4000, 0.3): mean 1200, sd 29; 5 sd either side.
    assert 1200 - 145 <= n <= 1200 + 145
    assert shadow.metrics.window.invocations == n == shadow.metrics.window.errors_5xx
    assert {p.mirrored.status for p in sink.pairs} == {500}
