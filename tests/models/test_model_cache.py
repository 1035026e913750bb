"""The multi-model instance's LRU under a memory budget (ADR 0037), property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.models.model_cache import ModelCache

# A run of operations: ("add", model, size) or ("touch", model, 0).
operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "touch"]),
        st.integers(min_value=0, max_value=9),
        st.integers(min_value=0, max_value=500),
    ),
    max_size=60,
)


@given(st.integers(min_value=1, max_value=1000), operations)
def test_the_budget_holds_except_for_one_model_alone(budget: int, ops: list) -> None:
    cache = ModelCache(budget)
    sizes: dict[str, int] = {}
    for op, n, size in ops:
        name = f"m{n}"
        if op == "add":
            evicted = cache.add(name, size)
            sizes[name] = size
            assert name in cache  # the model just added always stays
            assert all(e.name != name for e in evicted)
            for e in evicted:
                assert e.name not in cache
        else:
            assert cache.touch(name) == (name in cache)
        assert cache.used == sum(sizes[m] for m in cache.names())
        assert cache.used <= budget or len(cache) == 1


@given(operations)
def test_eviction_takes_the_least_recently_used_first(ops: list) -> None:
    cache = ModelCache(1000)
    order: list[str] = []  # our own model of recency, least recent first
    for op, n, size in ops:
        name = f"m{n}"
        if op == "add":
            if name in order:
                order.remove(name)
            order.append(name)
            evicted = [e.name for e in cache.add(name, size)]
            assert evicted == order[: len(evicted)]  # a prefix: the oldest ones
            del order[: len(evicted)]
        elif cache.touch(name):
            order.remove(name)
            order.append(name)
        assert cache.names() == order


def test_evictions_are_counted_and_remove_frees_the_budget() -> None:
    cache = ModelCache(100)
    cache.add("a", 60)
    cache.add("b", 30)
    cache.touch("a")
    assert [e.name for e in cache.add("c", 30)] == ["b"]  # a was used after b
    assert cache.evictions == 1
    assert cache.remove("a") is not None and cache.used == 30
    assert cache.remove("a") is None
    assert [e.name for e in cache.add("big", 500)] == ["c"]  # alone over the budget: kept
    assert cache.names() == ["big"]


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ModelCache(0)
