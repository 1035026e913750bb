from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.instances.backoff import MAX_DELAY, restart_delay


def test_first_crash_restarts_at_once_then_backs_off() -> None:
    assert [restart_delay(n) for n in range(1, 6)] == [0.0, 0.5, 1.0, 2.0, 4.0]


@given(st.integers(0, 10_000))
def test_delay_is_bounded_and_monotone(n: int) -> None:
    assert 0.0 <= restart_delay(n) <= MAX_DELAY
    assert restart_delay(n) <= restart_delay(n + 1)
