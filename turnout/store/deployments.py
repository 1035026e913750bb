"""Deployment rows and their history.

The controller's writes are compare-and-set on (revision, requested): a write based on a
stale read, or one that would drop a request the API has just recorded, changes nothing
and the controller reads again. The API writes only `requested`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.domain.checks import prediction_test_document, prediction_test_of
from turnout.domain.deployments import Deployment, Event, Phase, Request, policy_document, policy_of
from turnout.domain.resources import EndpointStatus
from turnout.domain.shifting import Step
from turnout.errors import Conflict, NotFound
from turnout.store import endpoints
from turnout.store.schema import deployment_events, deployments
from turnout.store.schema import endpoints as endpoint_rows

_UNFINISHED = deployments.c.phase.not_in([p.value for p in Phase if p.finished])


def begin(conn: Connection, d: Deployment, event: Event, expect_status: EndpointStatus) -> bool:
    """UpdateEndpoint with a deployment: endpoint Updating, green pending, the deployment
    recorded (its id is the row's); False (nothing written) if the status is not expected."""
    if not endpoints.begin_config_update(
        conn, d.endpoint, d.green_config, last_modified_at=d.started_at,
        expect_status=expect_status,
    ):  # fmt: skip
        return False
    values = _values(d)
    values["endpoint_id"] = _endpoint_id(conn, d.endpoint)
    if d.prediction_test is not None:  # written once: the controller's writes leave it
        values["prediction_test"] = prediction_test_document(d.prediction_test)
    new_id = conn.execute(sa.insert(deployments).values(values)).inserted_primary_key
    assert new_id is not None
    _add_event(conn, new_id[0], event)
    return True


def active(conn: Connection, endpoint: str) -> Deployment | None:
    found = _load(conn, endpoint, _UNFINISHED, limit=1)
    return found[0] if found else None


def latest(conn: Connection, endpoint: str) -> Deployment | None:
    found = _load(conn, endpoint, sa.true(), limit=1)
    return found[0] if found else None


def history(conn: Connection, endpoint: str, limit: int) -> list[tuple[Deployment, list[Event]]]:
    """The endpoint's deployments, newest first, each with its events (oldest first)."""
    found = _load(conn, endpoint, sa.true(), limit=limit)
    events: dict[int, list[Event]] = {d.id: [] for d in found}
    rows = conn.execute(
        sa.select(deployment_events)
        .where(deployment_events.c.deployment_id.in_(list(events)))
        .order_by(deployment_events.c.id)
    )
    for row in rows:
        events[row.deployment_id].append(
            Event(row.at, row.kind, row.message, row.step, row.green_share)
        )
    return [(d, events[d.id]) for d in found]


def record(
    conn: Connection,
    expect: Deployment,
    new: Deployment,
    event: Event,
    endpoint_status: EndpointStatus | None = None,
) -> bool:
    """Write `new` over `expect` (compare-and-set) with its event; optionally the endpoint's
    status in the same transaction. False: nothing written."""
    result = conn.execute(
        sa.update(deployments)
        .where(
            deployments.c.id == expect.id,
            deployments.c.revision == expect.revision,
            _requested_is(expect.requested),
        )
        .values(_values(new))
    )
    if result.rowcount != 1:
        return False
    _add_event(conn, new.id, event)
    if endpoint_status is not None:
        conn.execute(
            sa.update(endpoint_rows)
            .where(endpoint_rows.c.name == new.endpoint)
            .values(status=endpoint_status.value, last_modified_at=event.at)
        )
    return True


def request(conn: Connection, endpoint: str, wanted: Request) -> Deployment:
    """Record a person's request on the endpoint's running deployment (the last one wins)."""
    d = active(conn, endpoint)
    if d is None:
        _endpoint_id(conn, endpoint)  # NotFound for an unknown endpoint
        raise Conflict(f"Endpoint {endpoint} has no deployment in progress.")
    if d.phase is Phase.ROLLING_BACK:
        raise Conflict(f"The deployment of endpoint {endpoint} is rolling back already.")
    conn.execute(
        sa.update(deployments).where(deployments.c.id == d.id).values(requested=wanted.value)
    )
    return replace(d, requested=wanted)


def delete_of_endpoint(conn: Connection, endpoint: str) -> None:
    """Drop the endpoint's deployments and their history (before the endpoint row goes)."""
    endpoint_id = _endpoint_id(conn, endpoint)
    ids = sa.select(deployments.c.id).where(deployments.c.endpoint_id == endpoint_id)
    conn.execute(sa.delete(deployment_events).where(deployment_events.c.deployment_id.in_(ids)))
    conn.execute(sa.delete(deployments).where(deployments.c.endpoint_id == endpoint_id))


def _requested_is(value: Request | None) -> sa.ColumnElement[bool]:
    if value is None:
        return deployments.c.requested.is_(None)
    return deployments.c.requested == value.value


def _endpoint_id(conn: Connection, name: str) -> int:
    found: int | None = conn.execute(
        sa.select(endpoint_rows.c.id).where(endpoint_rows.c.name == name)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("endpoint", name)
    return found


def _add_event(conn: Connection, deployment_id: int, event: Event) -> None:
    conn.execute(
        sa.insert(deployment_events).values(
            deployment_id=deployment_id,
            at=event.at,
            kind=event.kind,
            message=event.message,
            step=event.step,
            green_share=event.green_share,
        )
    )


def _values(d: Deployment) -> dict[str, Any]:
    return {
        "blue_config": d.blue_config,
        "green_config": d.green_config,
        "policy": policy_document(d.policy),
        "steps": [[s.green_share, s.bake_s] for s in d.steps],
        "phase": d.phase.value,
        "step": d.step,
        "step_started_at": d.step_started_at,
        "started_at": d.started_at,
        "revision": d.revision,
        "paused": d.paused,
        "requested": None if d.requested is None else d.requested.value,
        "failure_reason": d.failure_reason,
        "finished_at": d.finished_at,
    }


def _load(
    conn: Connection, endpoint: str, where: sa.ColumnElement[bool], limit: int
) -> list[Deployment]:
    rows = conn.execute(
        sa.select(deployments)
        .join(endpoint_rows, deployments.c.endpoint_id == endpoint_rows.c.id)
        .where(endpoint_rows.c.name == endpoint, where)
        .order_by(deployments.c.id.desc())
        .limit(limit)
    )
    return [_deployment(endpoint, row) for row in rows]


def _deployment(endpoint: str, row: Any) -> Deployment:
    steps: Sequence[Sequence[Any]] = row.steps
    return Deployment(
        id=row.id,
        endpoint=endpoint,
        blue_config=row.blue_config,
        green_config=row.green_config,
        policy=policy_of(row.policy),
        steps=tuple(Step(float(share), int(bake)) for share, bake in steps),
        phase=Phase(row.phase),
        step=row.step,
        step_started_at=row.step_started_at,
        started_at=row.started_at,
        revision=row.revision,
        paused=bool(row.paused),
        requested=None if row.requested is None else Request(row.requested),
        failure_reason=row.failure_reason,
        finished_at=row.finished_at,
        prediction_test=None
        if row.prediction_test is None
        else prediction_test_of(row.prediction_test),
    )
