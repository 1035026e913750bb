"""Endpoint rows and their live variant states.

An endpoint references its current (and, during an update, pending) endpoint config by
id, so it keeps resolving them after they are soft-deleted. Endpoints themselves are
hard-deleted: nothing references them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.domain.resources import Endpoint, EndpointStatus, Fleet, VariantState
from turnout.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from turnout.store import endpoint_configs as config_rows
from turnout.store import tags
from turnout.store.schema import endpoint_configs, endpoints, variant_states
from turnout.store.unique import insert_unless_name_taken

_current = endpoint_configs.alias("current_config")
_pending = endpoint_configs.alias("pending_config")
# SET expressions read the row's old values, so this swaps the configs in one statement.
_PROMOTE = {"config_id": endpoints.c.pending_config_id, "pending_config_id": None}


def add(conn: Connection, endpoint: Endpoint) -> None:
    _check_variant_names(endpoint.name, endpoint.variants)
    values = {
        "name": endpoint.name,
        "config_id": config_rows.live_id(conn, endpoint.config_name),
        "pending_config_id": (
            None
            if endpoint.pending_config_name is None
            else config_rows.live_id(conn, endpoint.pending_config_name)
        ),
        "status": endpoint.status.value,
        "failure_reason": endpoint.failure_reason,
        "created_at": endpoint.created_at,
        "last_modified_at": endpoint.last_modified_at,
    }
    endpoint_id = insert_unless_name_taken(conn, endpoints, values, live_only=False)
    if endpoint_id is None:
        raise AlreadyExists("endpoint", endpoint.name)
    _insert_variant_states(conn, endpoint_id, endpoint.variants)


def get(conn: Connection, name: str) -> Endpoint:
    found = _load(conn, endpoints.c.name == name)
    if not found:
        raise NotFound("endpoint", name)
    return found[0]


def list_all(conn: Connection) -> list[Endpoint]:
    return _load(conn, sa.true())


def save_state(
    conn: Connection,
    name: str,
    *,
    status: EndpointStatus,
    variants: Sequence[VariantState],
    failure_reason: str | None,
    last_modified_at: float,
    expect_status: EndpointStatus | None = None,
    promote_pending: bool = False,
    clear_pending: bool = False,
) -> bool:
    """Replace the endpoint's state; False (nothing written) if its status is not expected.

    `promote_pending` also makes the pending config current, `clear_pending` drops it: in
    the same transaction, so a finished or abandoned update is one atomic step.
    """
    if promote_pending and clear_pending:
        raise ValueError("promote_pending and clear_pending exclude each other")
    _check_variant_names(name, variants)
    values: dict[str, object] = {
        "status": status.value,
        "failure_reason": failure_reason,
        "last_modified_at": last_modified_at,
    }
    if promote_pending:
        values.update(_PROMOTE)
    elif clear_pending:
        values["pending_config_id"] = None
    # The UPDATE comes first: on PostgreSQL it locks the row, so concurrent saves of one
    # endpoint replace its variant states one after the other, never interleaved.
    endpoint_id = _update(conn, name, values, expect_status, needs_pending=promote_pending)
    if endpoint_id is None:
        return False
    conn.execute(sa.delete(variant_states).where(variant_states.c.endpoint_id == endpoint_id))
    _insert_variant_states(conn, endpoint_id, variants)
    return True


def begin_config_update(
    conn: Connection,
    name: str,
    config_name: str,
    *,
    last_modified_at: float,
    expect_status: EndpointStatus | None = None,
) -> bool:
    """UpdateEndpoint: Updating, with the live config `config_name` pending (green).

    False (nothing written) if the endpoint's status is not `expect_status`.
    """
    _id(conn, name)  # an unknown endpoint is reported before an unknown config
    values = {
        "status": EndpointStatus.UPDATING.value,
        "pending_config_id": config_rows.live_id(conn, config_name),
        "last_modified_at": last_modified_at,
    }
    return _update(conn, name, values, expect_status) is not None


def set_pending_config(conn: Connection, name: str, config_name: str | None) -> None:
    endpoint_id = _id(conn, name)
    config_id = None if config_name is None else config_rows.live_id(conn, config_name)
    conn.execute(
        sa.update(endpoints)
        .where(endpoints.c.id == endpoint_id)
        .values(pending_config_id=config_id)
    )


def promote_pending_config(conn: Connection, name: str) -> None:
    """The pending config becomes current (even if soft-deleted since) and pending clears."""
    _update(conn, name, _PROMOTE, None, needs_pending=True)


def _update(
    conn: Connection,
    name: str,
    values: Mapping[str, object],
    expect_status: EndpointStatus | None,
    *,
    needs_pending: bool = False,
) -> int | None:
    """UPDATE the endpoint `name` if its status is `expect_status` (None: any); its id.

    None when the status differs. NotFound for an unknown endpoint; Conflict when
    `needs_pending` and it has no pending config.
    """
    conditions = [endpoints.c.name == name]
    if expect_status is not None:
        conditions.append(endpoints.c.status == expect_status.value)
    if needs_pending:
        conditions.append(endpoints.c.pending_config_id.is_not(None))
    endpoint_id: int | None = conn.execute(
        sa.update(endpoints).where(*conditions).values(values).returning(endpoints.c.id)
    ).scalar_one_or_none()
    if endpoint_id is not None:
        return endpoint_id
    # Why not: look at the row (on PostgreSQL it may have changed again since).
    row = conn.execute(
        sa.select(endpoints.c.status, endpoints.c.pending_config_id).where(endpoints.c.name == name)
    ).one_or_none()
    if row is None:
        raise NotFound("endpoint", name)
    status_matches = expect_status is None or row.status == expect_status.value
    if needs_pending and status_matches and row.pending_config_id is None:
        raise Conflict(f'Endpoint "{name}" has no pending endpoint config to promote.')
    return None


def fleets(conn: Connection, name: str) -> tuple[Fleet, Fleet | None]:
    """The current and pending fleets, from the exact config and model rows referenced."""
    row = conn.execute(
        sa.select(endpoints.c.config_id, endpoints.c.pending_config_id).where(
            endpoints.c.name == name
        )
    ).one_or_none()
    if row is None:
        raise NotFound("endpoint", name)
    ids = (
        [row.config_id] if row.pending_config_id is None else [row.config_id, row.pending_config_id]
    )
    by_id = config_rows.fleets_by_id(conn, ids)
    pending = None if row.pending_config_id is None else by_id[row.pending_config_id]
    return by_id[row.config_id], pending


def delete(conn: Connection, name: str) -> None:
    endpoint_id = _id(conn, name)
    conn.execute(sa.delete(variant_states).where(variant_states.c.endpoint_id == endpoint_id))
    conn.execute(sa.delete(endpoints).where(endpoints.c.id == endpoint_id))
    tags.delete(conn, "endpoint", name)


def _id(conn: Connection, name: str) -> int:
    endpoint_id: int | None = conn.execute(
        sa.select(endpoints.c.id).where(endpoints.c.name == name)
    ).scalar_one_or_none()
    if endpoint_id is None:
        raise NotFound("endpoint", name)
    return endpoint_id


def _check_variant_names(endpoint_name: str, variants: Sequence[VariantState]) -> None:
    names = [variant.name for variant in variants]
    if len(set(names)) != len(names):
        raise InvalidRequest(f'The variant names of endpoint "{endpoint_name}" repeat.')


def _insert_variant_states(
    conn: Connection, endpoint_id: int, variants: Sequence[VariantState]
) -> None:
    if not variants:
        return
    conn.execute(
        sa.insert(variant_states),
        [
            {
                "endpoint_id": endpoint_id,
                "position": position,
                "name": variant.name,
                "desired_weight": variant.desired_weight,
                "desired_instance_count": variant.desired_instance_count,
                "current_weight": variant.current_weight,
                "current_instance_count": variant.current_instance_count,
            }
            for position, variant in enumerate(variants)
        ],
    )


def _load(conn: Connection, where: sa.ColumnElement[bool]) -> list[Endpoint]:
    """Endpoints matching `where` (by created_at, then name) with their config names."""
    rows = conn.execute(
        sa.select(
            endpoints,
            _current.c.name.label("config_name"),
            _pending.c.name.label("pending_config_name"),
        )
        .join(_current, endpoints.c.config_id == _current.c.id)
        .outerjoin(_pending, endpoints.c.pending_config_id == _pending.c.id)
        .where(where)
        .order_by(endpoints.c.created_at, endpoints.c.name)
    ).all()
    # One query for the variant states of all those endpoints (the same filter, joined).
    states: dict[int, list[VariantState]] = defaultdict(list)
    for state in conn.execute(
        sa.select(variant_states)
        .join(endpoints, variant_states.c.endpoint_id == endpoints.c.id)
        .where(where)
        .order_by(variant_states.c.endpoint_id, variant_states.c.position)
    ):
        states[state.endpoint_id].append(
            VariantState(
                name=state.name,
                desired_weight=state.desired_weight,
                desired_instance_count=state.desired_instance_count,
                current_weight=state.current_weight,
                current_instance_count=state.current_instance_count,
            )
        )
    return [
        Endpoint(
            name=row.name,
            config_name=row.config_name,
            status=EndpointStatus(row.status),
            variants=tuple(states[row.id]),
            failure_reason=row.failure_reason,
            created_at=row.created_at,
            last_modified_at=row.last_modified_at,
            pending_config_name=row.pending_config_name,
        )
        for row in rows
    ]
