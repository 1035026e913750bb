"""Routing settings, exposures, inferences, feedback and experiments (ADR 0013).

Exposures and inferences are written insert-if-absent (`ON CONFLICT DO NOTHING`), so the
first one of each user (or inference id) is kept whichever router process wrote it first.
Reports aggregate in SQL: one row per variant, however many users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from turnout.errors import AlreadyExists, NotFound
from turnout.store.schema import endpoints, experiments, exposures, feedback, inferences
from turnout.store.schema import routing_settings as routing_table


@dataclass(frozen=True)
class ExposureRow:
    endpoint: str
    user: str | None
    variant: str
    config: str
    inference_id: str | None
    randomized: bool
    at: float


@dataclass(frozen=True)
class FeedbackRow:
    endpoint: str
    user: str | None
    inference_id: str | None
    metric: str
    value: float
    at: float


@dataclass(frozen=True)
class MetricTotals:
    """One variant's users and one metric's per-user aggregates (ADR 0013)."""

    users: int  # exposed, randomized
    with_data: int  # of those, users with at least one event of the metric
    converted: int  # users whose largest value is > 0
    total: float  # sum over users with data of their mean value
    total_sq: float


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    endpoint: str
    name: str
    definition: dict[str, Any]
    auto_promote: bool
    status: str
    created_at: float
    stopped_at: float | None
    outcome: str | None


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _endpoint_id(conn: Connection, endpoint: str) -> int:
    found = conn.execute(
        sa.select(endpoints.c.id).where(endpoints.c.name == endpoint)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("endpoint", endpoint)
    return int(found)


# --- routing settings -------------------------------------------------------------------
def routing(conn: Connection, endpoint: str) -> tuple[str, dict[str, Any]] | None:
    """The endpoint's (salt, document), or None if it has none yet. NotFound."""
    endpoint_id = _endpoint_id(conn, endpoint)
    row = conn.execute(
        sa.select(routing_table.c.salt, routing_table.c.document).where(
            routing_table.c.endpoint_id == endpoint_id
        )
    ).first()
    return (row.salt, row.document) if row is not None else None


def ensure_routing(
    conn: Connection, endpoint: str, salt: str, document: dict[str, Any], at: float
) -> tuple[str, dict[str, Any]]:
    """The endpoint's (salt, document), created with these on first use. NotFound."""
    endpoint_id = _endpoint_id(conn, endpoint)
    row = conn.execute(
        sa.select(routing_table.c.salt, routing_table.c.document).where(
            routing_table.c.endpoint_id == endpoint_id
        )
    ).first()
    if row is not None:
        return row.salt, row.document
    conn.execute(
        _insert(conn)(routing_table)
        .values(endpoint_id=endpoint_id, salt=salt, document=document, updated_at=at)
        .on_conflict_do_nothing(index_elements=[routing_table.c.endpoint_id])
    )
    row = conn.execute(
        sa.select(routing_table.c.salt, routing_table.c.document).where(
            routing_table.c.endpoint_id == endpoint_id
        )
    ).one()
    return row.salt, row.document


def save_routing(conn: Connection, endpoint: str, document: dict[str, Any], at: float) -> None:
    endpoint_id = _endpoint_id(conn, endpoint)
    conn.execute(
        sa.update(routing_table)
        .where(routing_table.c.endpoint_id == endpoint_id)
        .values(document=document, updated_at=at)
    )


# --- exposures and inferences -------------------------------------------------------------
def add_exposures(conn: Connection, batch: Sequence[ExposureRow]) -> None:
    insert = _insert(conn)
    users = [
        {"endpoint": e.endpoint, "user_key": e.user, "variant": e.variant, "config": e.config,
         "randomized": e.randomized, "at": e.at}
        for e in batch if e.user is not None
    ]  # fmt: skip
    if users:
        conn.execute(
            insert(exposures).on_conflict_do_nothing(
                index_elements=[exposures.c.endpoint, exposures.c.user_key]
            ),
            users,
        )
    ids = [
        {"endpoint": e.endpoint, "inference_id": e.inference_id, "user_key": e.user,
         "variant": e.variant, "at": e.at}
        for e in batch if e.inference_id is not None
    ]  # fmt: skip
    if ids:
        conn.execute(
            insert(inferences).on_conflict_do_nothing(
                index_elements=[inferences.c.endpoint, inferences.c.inference_id]
            ),
            ids,
        )


def add_feedback(conn: Connection, batch: Sequence[FeedbackRow]) -> None:
    conn.execute(
        sa.insert(feedback),
        [
            {"endpoint": f.endpoint, "user_key": f.user, "inference_id": f.inference_id,
             "metric": f.metric, "value": f.value, "at": f.at}
            for f in batch
        ],
    )  # fmt: skip


def exposed_variant(conn: Connection, endpoint: str, user: str) -> str | None:
    return conn.execute(
        sa.select(exposures.c.variant).where(
            exposures.c.endpoint == endpoint, exposures.c.user_key == user
        )
    ).scalar_one_or_none()


def delete_before(conn: Connection, cutoff: float) -> int:
    """Retention: exposures, inferences and feedback older than `cutoff`."""
    deleted = 0
    for table in (exposures, inferences, feedback):
        deleted += conn.execute(sa.delete(table).where(table.c.at < cutoff)).rowcount or 0
    return deleted


# --- aggregates ---------------------------------------------------------------------------
# From the feedback side (small) into exposures by their primary key: joining the other way
# round made SQLite scan the per-user aggregate once per exposure.
_WITH_DATA = sa.text(
    """
    WITH fb AS (
        SELECT COALESCE(f.user_key, i.user_key) AS unit, f.value AS value
        FROM feedback f
        LEFT JOIN inferences i
            ON i.endpoint = f.endpoint AND i.inference_id = f.inference_id
        WHERE f.endpoint = :endpoint AND f.metric = :metric
    ), per_user AS (
        SELECT unit, MAX(value) AS top, AVG(value) AS mean
        FROM fb WHERE unit IS NOT NULL GROUP BY unit
    )
    SELECT e.variant AS variant, COUNT(*) AS with_data,
        SUM(CASE WHEN p.top > 0 THEN 1 ELSE 0 END) AS converted,
        SUM(p.mean) AS total, SUM(p.mean * p.mean) AS total_sq
    FROM per_user p
    JOIN exposures e ON e.endpoint = :endpoint AND e.user_key = p.unit
    WHERE e.randomized = :randomized
    GROUP BY e.variant
    """
)

_FEEDBACK_COUNTS = sa.text(
    """
    SELECT f.metric AS metric, COUNT(*) AS events,
        SUM(CASE WHEN (f.user_key IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM exposures e
                WHERE e.endpoint = f.endpoint AND e.user_key = f.user_key))
            OR (f.user_key IS NULL AND NOT EXISTS (
                SELECT 1 FROM inferences i
                WHERE i.endpoint = f.endpoint AND i.inference_id = f.inference_id))
            THEN 1 ELSE 0 END) AS unmatched
    FROM feedback f
    WHERE f.endpoint = :endpoint
    GROUP BY f.metric
    """
)


def exposed_users(conn: Connection, endpoint: str) -> dict[str, int]:
    """Randomized users per variant."""
    rows = conn.execute(
        sa.select(exposures.c.variant, sa.func.count())
        .where(exposures.c.endpoint == endpoint, exposures.c.randomized.is_(True))
        .group_by(exposures.c.variant)
    )
    return {variant: int(n) for variant, n in rows}


def metric_totals(
    conn: Connection, endpoint: str, metric: str, users: dict[str, int]
) -> dict[str, MetricTotals]:
    """Per variant: `users` (from `exposed_users`) and the metric's per-user aggregates."""
    params = {"endpoint": endpoint, "metric": metric, "randomized": True}
    found = {row.variant: row for row in conn.execute(_WITH_DATA, params)}
    totals = {}
    for variant, n in users.items():
        row = found.get(variant)
        totals[variant] = MetricTotals(
            n,
            int(row.with_data) if row else 0,
            int(row.converted or 0) if row else 0,
            float(row.total or 0.0) if row else 0.0,
            float(row.total_sq or 0.0) if row else 0.0,
        )
    return totals


def feedback_counts(conn: Connection, endpoint: str) -> dict[str, tuple[int, int]]:
    """(events, unmatched events) per metric: unmatched name a user or an inference id
    that no exposure of the endpoint has."""
    rows = conn.execute(_FEEDBACK_COUNTS, {"endpoint": endpoint})
    return {row.metric: (int(row.events), int(row.unmatched or 0)) for row in rows}


# --- experiments --------------------------------------------------------------------------
def add_experiment(
    conn: Connection,
    endpoint: str,
    name: str,
    definition: dict[str, Any],
    auto_promote: bool,
    at: float,
) -> ExperimentRow:
    new_id = conn.execute(
        _insert(conn)(experiments)
        .values(endpoint=endpoint, name=name, definition=definition, auto_promote=auto_promote,
                status="running", created_at=at)
        .on_conflict_do_nothing(index_elements=[experiments.c.endpoint, experiments.c.name])
        .returning(experiments.c.id)
    ).scalar_one_or_none()  # fmt: skip
    if new_id is None:
        raise AlreadyExists("experiment", name)
    return get_experiment(conn, endpoint, name)


def get_experiment(conn: Connection, endpoint: str, name: str) -> ExperimentRow:
    row = conn.execute(
        sa.select(experiments).where(experiments.c.endpoint == endpoint, experiments.c.name == name)
    ).first()
    if row is None:
        raise NotFound("experiment", name)
    return _experiment(row)


def list_experiments(conn: Connection, endpoint: str | None = None) -> list[ExperimentRow]:
    query = sa.select(experiments).order_by(experiments.c.id)
    if endpoint is not None:
        query = query.where(experiments.c.endpoint == endpoint)
    return [_experiment(row) for row in conn.execute(query)]


def finish_experiment(
    conn: Connection, endpoint: str, name: str, status: str, outcome: str, at: float
) -> bool:
    """Running → `status`; False if it was not running (compare-and-set)."""
    done = conn.execute(
        sa.update(experiments)
        .where(
            experiments.c.endpoint == endpoint,
            experiments.c.name == name,
            experiments.c.status == "running",
        )
        .values(status=status, outcome=outcome, stopped_at=at)
    )
    return bool(done.rowcount)


def _experiment(row: Any) -> ExperimentRow:
    return ExperimentRow(
        row.id, row.endpoint, row.name, row.definition, bool(row.auto_promote), row.status,
        row.created_at, row.stopped_at, row.outcome,
    )  # fmt: skip
