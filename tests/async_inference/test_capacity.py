"""Which variant takes the next asynchronous request, and how many an endpoint may take."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.async_inference.capacity import Slots, choose, free_slots

slots = st.builds(
    Slots,
    key=st.tuples(st.just("cfg"), st.text(min_size=1, max_size=3)),
    weight=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    ready=st.integers(0, 4),
    in_flight=st.integers(0, 20),
)


@given(st.lists(slots, max_size=5), st.integers(1, 8), st.floats(0, 1, exclude_max=True))
def test_the_choice_has_a_free_slot_and_a_weight(
    variants: list[Slots], per_instance: int, u: float
) -> None:
    index = choose(variants, per_instance, u)
    if free_slots(variants, per_instance) == 0:
        assert index is None
    else:
        assert index is not None
        assert variants[index].weight > 0 and variants[index].free(per_instance) > 0


def test_free_slots_are_per_ready_instance_less_those_in_flight() -> None:
    a = Slots(("c", "A"), 1.0, ready=2, in_flight=3)
    b = Slots(("c", "B"), 0.0, ready=5, in_flight=0)  # weight 0: takes nothing
    c = Slots(("c", "C"), 1.0, ready=0, in_flight=0)  # nothing ready: takes nothing
    assert free_slots([a, b, c], per_instance=4) == 5
    assert free_slots([a, b, c], per_instance=1) == 0


def test_the_weights_share_the_requests_while_every_variant_has_room() -> None:
    a = Slots(("c", "A"), 3.0, ready=1, in_flight=0)
    b = Slots(("c", "B"), 1.0, ready=1, in_flight=0)
    picks = [choose([a, b], 4, i / 1000) for i in range(1000)]
    assert picks.count(0) == 750 and picks.count(1) == 250
    full = Slots(("c", "A"), 3.0, ready=1, in_flight=4)
    assert {choose([full, b], 4, i / 10) for i in range(10)} == {1}
