"""A serverless variant's concurrency gate and idle decision (ADR 0038), and the dispatcher
around them: MaxConcurrency requests at once, the next throttled; a request that finds no
instance asks for one and waits (bounded) for its cold start."""

from __future__ import annotations

import asyncio
from time import perf_counter

from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.rollups import VariantKey
from turnout.routing.dispatch import Dispatcher, DispatchError, Failure, Invocation
from turnout.routing.router import Router, RouterLimits
from turnout.routing.serverless import ConcurrencyGate, idle
from turnout.routing.table import VariantTarget


@given(st.integers(1, 8), st.lists(st.booleans(), max_size=60))
def test_the_gate_never_lets_more_than_its_limit_in(limit: int, steps: list[bool]) -> None:
    """Any interleaving of arrivals (True) and departures (False, of one let in)."""
    gate = ConcurrencyGate(limit, now=0.0)
    inside = refused = 0
    for t, arrives in enumerate(steps, start=1):
        if arrives:
            if gate.enter(float(t)):
                inside += 1
            else:
                refused += 1
                assert inside == limit  # refused only when full
        elif inside:
            gate.leave(float(t))
            inside -= 1
        assert gate.in_flight == inside <= limit
    assert refused == 0 or steps.count(True) > limit


@given(st.integers(0, 3), st.floats(0, 100), st.floats(0, 100), st.floats(0.1, 50))
def test_idle_only_with_nothing_in_flight_for_the_idle_time(
    in_flight: int, last: float, later: float, idle_time: float
) -> None:
    now = last + later
    assert idle(in_flight, last, now, idle_time) == (in_flight == 0 and now - last >= idle_time)


def test_the_gate_remembers_when_it_was_last_busy() -> None:
    gate = ConcurrencyGate(2, now=1.0)
    assert gate.enter(5.0) and gate.last_busy == 5.0
    assert not idle(gate.in_flight, gate.last_busy, 100.0, 1.0)  # a request still in flight
    gate.leave(7.0)
    assert not idle(gate.in_flight, gate.last_busy, 7.5, 1.0)
    assert idle(gate.in_flight, gate.last_busy, 8.0, 1.0)


def serverless_router(limit: int, wait: float) -> tuple[Router, list[VariantKey]]:
    router = Router(RouterLimits(cold_start_wait=wait, instance_wait=0.0), "123456789012")
    asked: list[VariantKey] = []
    router.on_demand = asked.append
    router.publish("ep", [VariantTarget("cfg", "S", 1.0, (), max_concurrency=limit)])
    return router, asked


def invocation() -> Invocation:
    return Invocation("ep", None, [], [], b"[]", perf_counter())


def test_requests_beyond_max_concurrency_are_throttled_the_others_wait_for_a_start() -> None:
    router, asked = serverless_router(limit=2, wait=0.3)
    dispatcher = Dispatcher(router)

    async def three_at_once() -> list[BaseException | object]:
        return await asyncio.gather(
            *(dispatcher.dispatch(invocation()) for _ in range(3)), return_exceptions=True
        )

    outcomes = asyncio.run(three_at_once())
    failures = sorted(o.failure for o in outcomes if isinstance(o, DispatchError))
    # Two waited for a cold start that never came here (no agent), the third was throttled.
    assert failures == [Failure.NO_INSTANCE, Failure.NO_INSTANCE, Failure.THROTTLED]
    throttled = next(o for o in outcomes if getattr(o, "failure", None) is Failure.THROTTLED)
    assert isinstance(throttled, DispatchError) and throttled.status == 429
    assert "MaxConcurrency of 2" in throttled.message
    assert asked and set(asked) == {VariantKey("ep", "cfg", "S")}
    assert router.gates[VariantKey("ep", "cfg", "S")].in_flight == 0  # all let out again


def test_the_gate_outlives_a_publish_and_goes_with_the_variant() -> None:
    router, _ = serverless_router(limit=3, wait=0.0)
    key = VariantKey("ep", "cfg", "S")
    gate = router.gates[key]
    gate.enter(1.0)
    router.publish("ep", [VariantTarget("cfg", "S", 1.0, (), max_concurrency=5)])
    assert router.gates[key] is gate and (gate.limit, gate.in_flight) == (5, 1)
    assert router.table.endpoints["ep"].routes[0].gate is gate
    router.publish("ep", [VariantTarget("cfg", "S", 1.0, ())])  # no longer serverless
    assert key not in router.gates and router.table.endpoints["ep"].routes[0].gate is None
