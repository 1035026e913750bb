"""The asynchronous inference queue in the store (ADR 0031), on SQLite and PostgreSQL:
claims by compare-and-set, leases, requeueing after a worker's death, idempotent submits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from turnout.domain.async_inference import AsyncRequest, RequestState
from turnout.store import Store
from turnout.store.async_queue import AsyncQueue, BacklogFull


def request(n: int, endpoint: str = "ep", at: float = 100.0) -> AsyncRequest:
    return AsyncRequest(
        id=0,
        endpoint=endpoint,
        inference_id=f"req-{n}",
        input_location=f"s3://in/{n}.csv",
        output_location=f"s3://out/req-{n}.out",
        failure_location=f"s3://fail/req-{n}-error.out",
        content_type="text/csv",
        accept=None,
        custom_attributes=None,
        enqueued_at=at + n,
        deadline=at + n + 3600,
        invocation_timeout=60.0,
    )


def test_requests_are_claimed_oldest_first_and_once(store: Store) -> None:
    queue = AsyncQueue(store)
    for n in range(5):
        queue.enqueue(request(n))
    queue.enqueue(request(9, endpoint="other"))
    first = queue.claim("ep", "w1", now=200.0, ttl=10.0, limit=2)
    assert [r.inference_id for r in first] == ["req-0", "req-1"]
    assert all(r.state is RequestState.RUNNING and r.lease_owner == "w1" for r in first)
    assert all(r.lease_expires == 210.0 and r.attempts == 1 for r in first)
    second = queue.claim("ep", "w2", now=200.0, ttl=10.0, limit=10)
    assert [r.inference_id for r in second] == ["req-2", "req-3", "req-4"]
    assert queue.claim("ep", "w3", now=200.0, ttl=10.0, limit=10) == []
    assert queue.counts("ep") == {RequestState.RUNNING: 5}
    assert queue.counts("other") == {RequestState.QUEUED: 1}


def test_only_the_lease_holder_finishes_and_expired_leases_are_queued_again(
    store: Store,
) -> None:
    queue = AsyncQueue(store)
    queue.enqueue(request(1))
    (claimed,) = queue.claim("ep", "w1", now=200.0, ttl=10.0, limit=1)
    assert queue.renew("w1", [claimed.id], now=205.0, ttl=10.0) == {claimed.id}  # until 215
    assert queue.requeue_expired(now=214.0) == 0
    # w1 dies: its lease lapses, the request is queued again and w2 takes it.
    assert queue.requeue_expired(now=216.0) == 1
    (again,) = queue.claim("ep", "w2", now=216.0, ttl=10.0, limit=1)
    assert (again.id, again.attempts, again.lease_owner) == (claimed.id, 2, "w2")
    # w1 comes back (a stalled thread): it holds nothing and cannot mark the request.
    assert queue.renew("w1", [claimed.id], now=217.0, ttl=10.0) == set()
    assert not queue.finish(claimed.id, "w1", RequestState.DONE, now=217.0, reason=None)
    assert queue.finish(claimed.id, "w2", RequestState.DONE, now=218.0, reason=None)
    assert not queue.finish(claimed.id, "w2", RequestState.FAILED, now=219.0, reason="late")
    done = queue.get("ep", "req-1")
    assert done is not None and (done.state, done.finished_at) == (RequestState.DONE, 218.0)
    assert queue.requeue_expired(now=10_000.0) == 0  # finished requests stay finished


def test_a_released_request_is_queued_without_counting_an_attempt(store: Store) -> None:
    queue = AsyncQueue(store)
    queue.enqueue(request(1))
    (claimed,) = queue.claim("ep", "w1", now=200.0, ttl=10.0, limit=1)
    assert not queue.release(claimed.id, "w2")
    assert queue.release(claimed.id, "w1")
    (again,) = queue.claim("ep", "w1", now=201.0, ttl=10.0, limit=1)
    assert again.attempts == 1


def test_a_retried_submit_finds_the_first(store: Store) -> None:
    queue = AsyncQueue(store)
    first = queue.enqueue(request(1))
    again = queue.enqueue(request(1, at=500.0))
    assert again == first
    assert queue.counts("ep") == {RequestState.QUEUED: 1}


def test_backlogs_and_pruning(store: Store) -> None:
    queue = AsyncQueue(store)
    for n in range(3):
        queue.enqueue(request(n))
    queue.enqueue(request(7, endpoint="b"))
    (running,) = queue.claim("ep", "w1", now=200.0, ttl=10.0, limit=1)
    backlogs = {b.endpoint: b for b in queue.backlogs()}
    assert (backlogs["ep"].size, backlogs["ep"].queued) == (3, 2)
    assert backlogs["ep"].oldest_enqueued_at == 100.0
    assert backlogs["ep"].age(now=130.0) == 30.0
    assert (backlogs["b"].size, backlogs["b"].queued) == (1, 1)
    queue.finish(running.id, "w1", RequestState.FAILED, now=300.0, reason="model error")
    assert {b.endpoint: b.size for b in queue.backlogs()} == {"ep": 2, "b": 1}
    assert queue.prune(finished_before=300.0) == 0
    assert queue.prune(finished_before=301.0) == 1
    assert queue.get("ep", "req-0") is None


def test_the_backlog_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("turnout.store.async_queue.MAX_BACKLOG", 2)
    queue = AsyncQueue(store)
    queue.enqueue(request(1))
    queue.enqueue(request(2))
    with pytest.raises(BacklogFull):
        queue.enqueue(request(3))
    queue.enqueue(request(3, endpoint="other"))  # per endpoint


def test_concurrent_claimers_never_share_a_request(store: Store) -> None:
    """Eight workers claim at once, over and over: each request is claimed exactly once."""
    queue = AsyncQueue(store)
    total = 60
    for n in range(total):
        queue.enqueue(request(n))
    start = threading.Barrier(8)

    def work(worker: int) -> list[int]:
        start.wait()
        mine: list[int] = []
        while batch := queue.claim("ep", f"w{worker}", now=200.0, ttl=60.0, limit=3):
            mine += [r.id for r in batch]
        return mine

    with ThreadPoolExecutor(8) as pool:
        claimed = [i for ids in pool.map(work, range(8)) for i in ids]
    assert len(claimed) == total
    assert len(set(claimed)) == total


def test_concurrent_submits_of_one_inference_id_make_one_request(store: Store) -> None:
    queue = AsyncQueue(store)
    start = threading.Barrier(6)

    def submit(_: int) -> int:
        start.wait()
        return queue.enqueue(request(1)).id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(submit, range(6)))
    assert len(ids) == 1
    assert queue.counts("ep") == {RequestState.QUEUED: 1}
