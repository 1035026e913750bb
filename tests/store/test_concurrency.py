"""The server calls the store from several worker threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from turnout.domain.resources import EndpointStatus, VariantState
from turnout.errors import AlreadyExists
from turnout.store import Store

from .builders import config, endpoint, model

T = TypeVar("T")
THREADS = 8


def _run_together(task: Callable[[int], T], threads: int = THREADS) -> list[T]:
    """Run task(0..threads-1) on that many threads released at the same moment."""
    start = threading.Barrier(threads)

    def run(index: int) -> T:
        start.wait()
        return task(index)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, range(threads)))


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    per_thread = 25

    def add_models(thread: int) -> None:
        for i in range(per_thread):
            store.add_model(model(f"t{thread}-m{i}", created_at=float(i)))

    _run_together(add_models)
    names = {m.name for m in store.list_models()}
    assert names == {f"t{t}-m{i}" for t in range(THREADS) for i in range(per_thread)}


def test_one_of_many_racing_adds_of_a_name_wins(store: Store) -> None:
    def add(thread: int) -> str:
        try:
            store.add_model(model("m", artifact=f"/t{thread}"))
        except AlreadyExists:
            return "lost"
        return "won"

    assert sorted(_run_together(add)) == ["lost"] * (THREADS - 1) + ["won"]
    assert len(store.list_models()) == 1


def test_readers_never_see_half_a_state_save(store: Store) -> None:
    """Each save writes one value everywhere; a reader sees one save, never a mix."""
    store.add_model(model("m"))
    store.add_endpoint_config(config("c", "m", "m", "m"))
    store.add_endpoint(endpoint("e", config("c", "m", "m", "m")))
    names = [v.name for v in config("c", "m", "m", "m").variants]
    saves = 20

    def work(thread: int) -> set[float]:
        seen: set[float] = set()
        for i in range(saves):
            if thread % 2:
                k = float(thread * saves + i)
                store.save_endpoint_state(
                    "e",
                    status=EndpointStatus.UPDATING,
                    variants=tuple(VariantState(name, k, int(k)) for name in names),
                    failure_reason=None,
                    last_modified_at=k,
                )
            else:
                got = store.get_endpoint("e")
                weights = {v.desired_weight for v in got.variants}
                if got.status is EndpointStatus.UPDATING:
                    assert weights == {got.last_modified_at}
                    seen.add(got.last_modified_at)
        return seen

    _run_together(work)
    final = store.get_endpoint("e")
    assert [v.name for v in final.variants] == names
    assert {v.desired_weight for v in final.variants} == {final.last_modified_at}


def test_concurrent_read_then_write_transactions_lose_nothing(store: Store) -> None:
    """add_endpoint reads the config first, then writes: on SQLite such a transaction
    must queue for the write lock rather than fail with "database is locked"."""
    store.add_model(model("m"))
    store.add_endpoint_config(config("c"))
    store.add_endpoint_config(config("next"))
    per_thread = 10

    def add_endpoints(thread: int) -> None:
        for i in range(per_thread):
            name = f"t{thread}-e{i}"
            store.add_endpoint(endpoint(name, config("c")))
            store.set_pending_config(name, "next")

    _run_together(add_endpoints)
    listed = store.list_endpoints()
    assert len(listed) == THREADS * per_thread
    assert {e.pending_config_name for e in listed} == {"next"}


def test_one_of_many_racing_compare_and_sets_wins(store: Store) -> None:
    store.add_model(model("m"))
    store.add_endpoint_config(config("c"))
    store.add_endpoint(endpoint("e", config("c")))

    def save(thread: int) -> bool:
        return store.save_endpoint_state(
            "e",
            status=EndpointStatus.IN_SERVICE,
            variants=(VariantState("v0-m", 1.0, thread),),
            failure_reason=None,
            last_modified_at=float(thread),
            expect_status=EndpointStatus.CREATING,
        )

    results = _run_together(save)
    assert results.count(True) == 1
    winner = results.index(True)
    got = store.get_endpoint("e")
    assert (got.last_modified_at, got.variants[0].desired_instance_count) == (winner, winner)
