"""The asynchronous inference queue in the store (ADR 0031), on SQLite and PostgreSQL.

One transaction per method, like `turnout.store.Store`. A worker *claims* a queued request
by compare-and-set: `UPDATE ... SET state='running', lease_owner=me WHERE id=? AND
state='queued'` changes one row for exactly one claimer, whatever the isolation level. It
holds the request while it renews the lease; finishing is again compare-and-set on
(running, owner), so a worker whose lease lapsed (and whose request another worker took)
cannot mark it. A running request whose lease expired (its worker died) is queued again.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from turnout.domain.async_inference import (
    MAX_BACKLOG,
    AsyncRequest,
    Backlog,
    RequestState,
    Wait,
)
from turnout.errors import TurnoutError
from turnout.store import Store
from turnout.store.schema import async_requests as t

_WAITING = (RequestState.QUEUED.value, RequestState.RUNNING.value)


class BacklogFull(TurnoutError):
    """The endpoint has MAX_BACKLOG requests waiting: refuse more for now."""


class AsyncQueue:
    def __init__(self, store: Store) -> None:
        self._db = store.database

    def enqueue(self, request: AsyncRequest) -> AsyncRequest:
        """Add `request` (its id is assigned here) and return it as stored; if its endpoint
        already has a request of that InferenceId, that one is returned instead (a retried
        call must not run twice). BacklogFull when the endpoint's backlog is full."""
        try:
            return self._add(request)
        except sa.exc.IntegrityError:
            # The same InferenceId, added by a concurrent call since we looked (PostgreSQL;
            # SQLite's writers take turns): that one is the request.
            found = self.get(request.endpoint, request.inference_id)
            if found is None:
                raise
            return found

    def _add(self, request: AsyncRequest) -> AsyncRequest:
        with self._db.write() as conn:
            found = _one(
                conn, t.c.endpoint == request.endpoint, t.c.inference_id == request.inference_id
            )
            if found is not None:
                return found
            waiting = conn.execute(
                sa.select(sa.func.count())
                .select_from(t)
                .where(t.c.endpoint == request.endpoint, t.c.state.in_(_WAITING))
            ).scalar_one()
            if waiting >= MAX_BACKLOG:
                raise BacklogFull(
                    f"Endpoint {request.endpoint} has {waiting} asynchronous requests waiting, "
                    f"its limit: retry once some are done."
                )
            values = _row_of(request)
            new_id = conn.execute(sa.insert(t).values(**values).returning(t.c.id)).scalar_one()
            found = _one(conn, t.c.id == new_id)
            assert found is not None
            return found

    def get(self, endpoint: str, inference_id: str) -> AsyncRequest | None:
        with self._db.read() as conn:
            return _one(conn, t.c.endpoint == endpoint, t.c.inference_id == inference_id)

    def claim(
        self, endpoint: str, owner: str, now: float, ttl: float, limit: int
    ) -> list[AsyncRequest]:
        """Up to `limit` of the endpoint's oldest queued requests, now running under
        `owner`'s lease until `now + ttl`. Each is taken by compare-and-set: a request
        another worker took in between is skipped."""
        if limit <= 0:
            return []
        with self._db.write() as conn:
            ids = (
                conn.execute(
                    sa.select(t.c.id)
                    .where(t.c.state == RequestState.QUEUED.value, t.c.endpoint == endpoint)
                    .order_by(t.c.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            taken = [
                request_id
                for request_id in ids
                if conn.execute(
                    sa.update(t)
                    .where(t.c.id == request_id, t.c.state == RequestState.QUEUED.value)
                    .values(
                        state=RequestState.RUNNING.value,
                        lease_owner=owner,
                        lease_expires=now + ttl,
                        attempts=t.c.attempts + 1,
                    )
                ).rowcount
                == 1
            ]
            return _all(conn, t.c.id.in_(taken)) if taken else []

    def renew(self, owner: str, ids: Collection[int], now: float, ttl: float) -> set[int]:
        """Extend `owner`'s leases on these running requests; the ids it still holds."""
        if not ids:
            return set()
        held = sa.and_(
            t.c.id.in_(list(ids)),
            t.c.state == RequestState.RUNNING.value,
            t.c.lease_owner == owner,
        )
        with self._db.write() as conn:
            conn.execute(sa.update(t).where(held).values(lease_expires=now + ttl))
            return set(conn.execute(sa.select(t.c.id).where(held)).scalars())

    def finish(
        self, request_id: int, owner: str, state: RequestState, now: float, reason: str | None
    ) -> bool:
        """Mark a running request done or failed, if `owner` still holds it."""
        with self._db.write() as conn:
            result = conn.execute(
                sa.update(t)
                .where(*_held(request_id, owner))
                .values(state=state.value, finished_at=now, reason=reason, lease_owner=None,
                        lease_expires=None)
            )  # fmt: skip
            return result.rowcount == 1

    def release(self, request_id: int, owner: str) -> bool:
        """Queue a running request again (it could not be served now), if `owner` holds it;
        the claim does not count as an attempt."""
        with self._db.write() as conn:
            result = conn.execute(
                sa.update(t)
                .where(*_held(request_id, owner))
                .values(state=RequestState.QUEUED.value, lease_owner=None, lease_expires=None,
                        attempts=t.c.attempts - 1)
            )  # fmt: skip
            return result.rowcount == 1

    def requeue_expired(self, now: float) -> int:
        """Queue again every running request whose lease expired (its worker is gone)."""
        with self._db.write() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.state == RequestState.RUNNING.value, t.c.lease_expires < now)
                .values(state=RequestState.QUEUED.value, lease_owner=None, lease_expires=None)
            )
            return result.rowcount

    def backlogs(self) -> list[Backlog]:
        """Per endpoint with requests waiting: how many, and since when."""
        queued = sa.case((t.c.state == RequestState.QUEUED.value, 1), else_=0)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(
                    t.c.endpoint,
                    sa.func.count(),
                    sa.func.sum(queued),
                    sa.func.min(t.c.enqueued_at),
                )
                .where(t.c.state.in_(_WAITING))
                .group_by(t.c.endpoint)
                .order_by(t.c.endpoint)
            ).all()
        return [Backlog(row[0], row[1], int(row[2] or 0), row[3]) for row in rows]

    def waits(self, endpoint: str, since: float, until: float) -> list[Wait]:
        """When each of the endpoint's requests that waited in [since, until) waited."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(t.c.enqueued_at, t.c.finished_at).where(
                    t.c.endpoint == endpoint,
                    t.c.enqueued_at < until,
                    sa.or_(t.c.finished_at.is_(None), t.c.finished_at >= since),
                )
            ).all()
        return [Wait(row.enqueued_at, row.finished_at) for row in rows]

    def prune(self, finished_before: float) -> int:
        """Forget finished requests older than that (their objects stay where they are)."""
        with self._db.write() as conn:
            result = conn.execute(
                sa.delete(t).where(t.c.state.notin_(_WAITING), t.c.finished_at < finished_before)
            )
            return result.rowcount

    def counts(self, endpoint: str) -> dict[RequestState, int]:
        """How many of the endpoint's requests are in each state (tests, the CLI)."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(t.c.state, sa.func.count())
                .where(t.c.endpoint == endpoint)
                .group_by(t.c.state)
            ).all()
        return {RequestState(state): count for state, count in rows}


def _held(request_id: int, owner: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        t.c.id == request_id,
        t.c.state == RequestState.RUNNING.value,
        t.c.lease_owner == owner,
    )


def _row_of(request: AsyncRequest) -> dict[str, Any]:
    return {
        "endpoint": request.endpoint,
        "inference_id": request.inference_id,
        "input_location": request.input_location,
        "output_location": request.output_location,
        "failure_location": request.failure_location,
        "content_type": request.content_type,
        "accept": request.accept,
        "custom_attributes": request.custom_attributes,
        "state": RequestState.QUEUED.value,
        "attempts": 0,
        "enqueued_at": request.enqueued_at,
        "deadline": request.deadline,
        "invocation_timeout": request.invocation_timeout,
    }


def _request(row: Row[Any]) -> AsyncRequest:
    return AsyncRequest(
        id=row.id,
        endpoint=row.endpoint,
        inference_id=row.inference_id,
        input_location=row.input_location,
        output_location=row.output_location,
        failure_location=row.failure_location,
        content_type=row.content_type,
        accept=row.accept,
        custom_attributes=row.custom_attributes,
        enqueued_at=row.enqueued_at,
        deadline=row.deadline,
        invocation_timeout=row.invocation_timeout,
        state=RequestState(row.state),
        attempts=row.attempts,
        lease_owner=row.lease_owner,
        lease_expires=row.lease_expires,
        finished_at=row.finished_at,
        reason=row.reason,
    )


def _one(conn: Connection, *where: sa.ColumnElement[bool]) -> AsyncRequest | None:
    row = conn.execute(sa.select(t).where(*where)).first()
    return None if row is None else _request(row)


def _all(conn: Connection, where: sa.ColumnElement[bool]) -> list[AsyncRequest]:
    return [_request(row) for row in conn.execute(sa.select(t).where(where).order_by(t.c.id))]
