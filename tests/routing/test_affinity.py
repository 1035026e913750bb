"""Rendezvous hashing of a multi-model endpoint's TargetModel over its instances (ADR 0037)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from turnout.routing.affinity import rendezvous


@dataclass
class Node:
    affinity_key: bytes
    ready: bool = True


ids = st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=8, unique=True)
models = st.binary(min_size=1, max_size=1024)


@given(ids, models)
def test_the_same_model_lands_on_the_same_instance_whatever_the_order(
    keys: list[bytes], model: bytes
) -> None:
    nodes = [Node(k) for k in keys]
    chosen = rendezvous(nodes, model)
    assert chosen is not None
    assert rendezvous(list(reversed(nodes)), model) is chosen


@given(ids, models, st.data())
def test_an_instance_out_moves_only_its_own_models(
    keys: list[bytes], model: bytes, data: st.DataObject
) -> None:
    nodes = [Node(k) for k in keys]
    before = rendezvous(nodes, model)
    out = data.draw(st.sampled_from(nodes))
    out.ready = False
    after = rendezvous(nodes, model)
    if before is not out:
        assert after is before  # its model stays where it is loaded
    else:
        assert after is not out  # moved to another instance, or none left
        assert after is not None or len(nodes) == 1


def test_no_ready_instance_gives_none() -> None:
    assert rendezvous([Node(b"a", ready=False)], b"m") is None
    assert rendezvous([], b"m") is None


def test_models_spread_evenly_over_instances() -> None:
    nodes = [Node(f"ep/c/A/{i}".encode()) for i in range(4)]
    counts = Counter(
        rendezvous(nodes, f"m{i:04d}.tar.gz".encode()).affinity_key  # type: ignore[union-attr]
        for i in range(4000)
    )
    assert len(counts) == 4
    assert max(counts.values()) / min(counts.values()) < 1.3  # 1,000 each, give or take
