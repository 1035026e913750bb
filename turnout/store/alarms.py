"""Alarm definitions, their current state, and the history of state changes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.domain.alarms import (
    Alarm,
    AlarmState,
    AlarmStatus,
    AlarmTransition,
    from_document,
    to_document,
)
from turnout.errors import AlreadyExists, NotFound
from turnout.store.schema import alarm_history, alarms

INITIAL_REASON = "Unchecked: Initial alarm creation"


def add(conn: Connection, alarm: Alarm, created_at: float) -> None:
    if conn.execute(sa.select(alarms.c.name).where(alarms.c.name == alarm.name)).first():
        raise AlreadyExists("alarm", alarm.name)
    conn.execute(
        sa.insert(alarms).values(
            name=alarm.name,
            definition=to_document(alarm),
            state=AlarmState.INSUFFICIENT_DATA.value,
            state_reason=INITIAL_REASON,
            state_updated_at=created_at,
            created_at=created_at,
        )
    )


def replace(conn: Connection, alarm: Alarm) -> bool:
    """Overwrite the definition of the alarm of that name, keeping its state (as CloudWatch's
    PutMetricAlarm does); False if there is none."""
    update = sa.update(alarms).where(alarms.c.name == alarm.name)
    return conn.execute(update.values(definition=to_document(alarm))).rowcount > 0


def get(conn: Connection, name: str) -> AlarmStatus:
    row = conn.execute(sa.select(alarms).where(alarms.c.name == name)).first()
    if row is None:
        raise NotFound("alarm", name)
    return _status(row)


def list_(conn: Connection, endpoint: str | None = None) -> list[AlarmStatus]:
    statuses = [_status(row) for row in conn.execute(sa.select(alarms).order_by(alarms.c.name))]
    if endpoint is not None:
        statuses = [s for s in statuses if s.alarm.endpoint == endpoint]
    return statuses


def delete(conn: Connection, name: str) -> None:
    if conn.execute(sa.delete(alarms).where(alarms.c.name == name)).rowcount == 0:
        raise NotFound("alarm", name)


def set_state(conn: Connection, name: str, state: AlarmState, reason: str, at: float) -> bool:
    """Record the alarm's new state; a change also goes to the history. True if it changed.

    NotFound if the alarm was deleted meanwhile.
    """
    current = get(conn, name)
    if current.state is state:
        return False
    conn.execute(
        sa.update(alarms)
        .where(alarms.c.name == name)
        .values(state=state.value, state_reason=reason, state_updated_at=at)
    )
    conn.execute(
        sa.insert(alarm_history).values(
            alarm=name, at=at, old_state=current.state.value, new_state=state.value, reason=reason
        )
    )
    return True


def history(conn: Connection, name: str | None, limit: int = 100) -> list[AlarmTransition]:
    """The alarm's latest state changes (None: every alarm's), newest first."""
    query = sa.select(alarm_history)
    if name is not None:
        query = query.where(alarm_history.c.alarm == name)
    rows = conn.execute(
        query.order_by(alarm_history.c.at.desc(), alarm_history.c.id.desc()).limit(limit)
    )
    return [
        AlarmTransition(
            row.alarm, row.at, AlarmState(row.old_state), AlarmState(row.new_state), row.reason
        )
        for row in rows
    ]


def _status(row: Any) -> AlarmStatus:
    return AlarmStatus(
        alarm=from_document(row.definition),
        state=AlarmState(row.state),
        reason=row.state_reason,
        state_updated_at=row.state_updated_at,
        created_at=row.created_at,
    )
