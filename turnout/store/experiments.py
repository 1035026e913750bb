"""Routing settings, exposures, inferences, feedback and experiments (ADR 0013).

Exposures and inferences are written insert-if-absent (`ON CONFLICT DO NOTHING`), so the
first one of each user (or inference id) is kept whichever router process wrote it first.
Reports aggregate in SQL: one row per variant, however many users.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

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


# Feedback values beyond this size are refused at the API (turnout.experiments.service);
# any older ones in the store are left out of reports (and counted) rather than overflow.
MAX_VALUE = 1e15
_FOREVER = 1e300  # an open end of a time span, for SQL that compares numbers


@dataclass(frozen=True)
class Span:
    """What an experiment counts: users first exposed from `start` to `end` (None: still
    running), and their events in that span, at or after the user's first exposure and
    within `window` seconds of it (None: no limit)."""

    start: float = 0.0
    end: float | None = None


ALL_TIME = Span()


@dataclass(frozen=True)
class MetricQuery:
    """How to turn one metric's events into per-user values.

    `events`: the feedback metric, or (numerator, denominator) for a ratio. `per_user`:
    "mean" or "sum" of a user's events. `cap` caps per-user values from above at a value;
    `cap_percentile` at that percentile (nearest rank) of the per-user values."""

    events: tuple[str, ...]
    per_user: str = "mean"
    window: float | None = None
    cap: float | None = None
    cap_percentile: float | None = None

    @property
    def ratio(self) -> bool:
        return len(self.events) == 2


@dataclass(frozen=True)
class MetricTotals:
    """One variant's users and one metric's per-user aggregates (ADR 0013, 0025), centred
    (two passes in SQL) so that a large mean costs no precision."""

    users: int  # exposed, randomized, in the span
    with_data: int  # of those, users with at least one counted event of the metric
    converted: int  # users whose largest value is > 0
    mean: float  # over users with data, of their (capped) per-user value; 0 without any
    m2: float  # sum over users with data of (value - mean)^2
    cap: float | None = None  # the cap applied (a percentile's value, once computed)


@dataclass(frozen=True)
class RatioTotals:
    """One variant's users and, over its users with data, the means and centred sums of
    their per-user sums X (numerator) and Y (denominator)."""

    users: int
    with_data: int
    mean_x: float
    mean_y: float
    m2_x: float
    m2_y: float
    c_xy: float


@dataclass(frozen=True)
class JointTotals:
    """One variant's users and, over its users with the metric or its covariate (the other
    counting 0), the means and centred sums of the per-user value Y and covariate X."""

    users: int
    with_data: int
    mean_y: float
    mean_x: float
    m2_y: float
    m2_x: float
    c_xy: float


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
    state: dict[str, Any] | None = None  # the analysis' state between looks (ADR 0024)
    state_version: int = 0


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


def save_salt(conn: Connection, endpoint: str, salt: str, at: float) -> None:
    """A new salt for the endpoint's sticky assignment (its routing row exists: see
    `ensure_routing`)."""
    endpoint_id = _endpoint_id(conn, endpoint)
    conn.execute(
        sa.update(routing_table)
        .where(routing_table.c.endpoint_id == endpoint_id)
        .values(salt=salt, updated_at=at)
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
# round made SQLite scan the per-user aggregate once per exposure. `{columns}` are fixed
# fragments chosen below, never caller text.
_PER_USER = """
    WITH fb AS (
        SELECT COALESCE(f.user_key, i.user_key) AS unit, f.metric AS metric,
            f.value AS value, f.at AS at
        FROM feedback f
        LEFT JOIN inferences i
            ON i.endpoint = f.endpoint AND i.inference_id = f.inference_id
        WHERE f.endpoint = :endpoint AND f.metric IN (:x, :y)
            AND f.at >= :start AND f.at <= :end AND ABS(f.value) <= :bound
    ), per_user AS (
        SELECT e.variant AS variant, fb.unit AS unit, {columns}
        FROM fb
        JOIN exposures e ON e.endpoint = :endpoint AND e.user_key = fb.unit
        WHERE e.randomized = :randomized AND e.at >= :start AND e.at <= :end
            AND fb.at >= e.at AND fb.at <= e.at + :window
        GROUP BY e.variant, fb.unit
    )
"""
_NUMERIC_COLUMNS = {
    "mean": "MAX(fb.value) AS top, AVG(fb.value) AS raw",
    "sum": "MAX(fb.value) AS top, SUM(fb.value) AS raw",
}
_RATIO_COLUMNS = """SUM(CASE WHEN fb.metric = :x THEN fb.value ELSE 0.0 END) AS x,
            SUM(CASE WHEN fb.metric = :y THEN fb.value ELSE 0.0 END) AS y"""

# Two passes: each variant's mean first, then the squared deviations from it.
_NUMERIC = """
    , capped AS (
        SELECT variant, top, CASE WHEN raw > :cap THEN :cap ELSE raw END AS value
        FROM per_user
    ), stats AS (
        SELECT variant, COUNT(*) AS n, AVG(value) AS mean FROM capped GROUP BY variant
    )
    SELECT c.variant AS variant, s.n AS with_data, s.mean AS mean,
        SUM(CASE WHEN c.top > 0 THEN 1 ELSE 0 END) AS converted,
        SUM((c.value - s.mean) * (c.value - s.mean)) AS m2
    FROM capped c JOIN stats s ON s.variant = c.variant
    GROUP BY c.variant, s.n, s.mean
"""
_RATIO = """
    , stats AS (
        SELECT variant, COUNT(*) AS n, AVG(x) AS mx, AVG(y) AS my FROM per_user GROUP BY variant
    )
    SELECT p.variant AS variant, s.n AS with_data, s.mx AS mean_x, s.my AS mean_y,
        SUM((p.x - s.mx) * (p.x - s.mx)) AS m2_x, SUM((p.y - s.my) * (p.y - s.my)) AS m2_y,
        SUM((p.x - s.mx) * (p.y - s.my)) AS c_xy
    FROM per_user p JOIN stats s ON s.variant = p.variant
    GROUP BY p.variant, s.n, s.mx, s.my
"""
# Nearest rank: the smallest per-user value with at least `percentile` of them at or below.
_COUNT = "SELECT COUNT(*) FROM per_user"
_AT_RANK = "SELECT raw FROM per_user ORDER BY raw LIMIT 1 OFFSET :offset"

_FEEDBACK_COUNTS = sa.text(
    """
    SELECT f.metric AS metric, COUNT(*) AS events,
        SUM(CASE WHEN (f.user_key IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM exposures e
                WHERE e.endpoint = f.endpoint AND e.user_key = f.user_key))
            OR (f.user_key IS NULL AND NOT EXISTS (
                SELECT 1 FROM inferences i
                WHERE i.endpoint = f.endpoint AND i.inference_id = f.inference_id))
            THEN 1 ELSE 0 END) AS unmatched,
        SUM(CASE WHEN ABS(f.value) > :bound THEN 1 ELSE 0 END) AS out_of_range
    FROM feedback f
    WHERE f.endpoint = :endpoint
    GROUP BY f.metric
    """
)


def exposed_users(conn: Connection, endpoint: str, span: Span = ALL_TIME) -> dict[str, int]:
    """Randomized users per variant, first exposed in the span."""
    rows = conn.execute(
        sa.select(exposures.c.variant, sa.func.count())
        .where(
            exposures.c.endpoint == endpoint,
            exposures.c.randomized.is_(True),
            exposures.c.at >= span.start,
            exposures.c.at <= (_FOREVER if span.end is None else span.end),
        )
        .group_by(exposures.c.variant)
    )
    return {variant: int(n) for variant, n in rows}


def _params(endpoint: str, query: MetricQuery, span: Span) -> dict[str, Any]:
    x, y = query.events if query.ratio else (query.events[0], query.events[0])
    return {
        "endpoint": endpoint, "x": x, "y": y, "randomized": True, "bound": MAX_VALUE,
        "start": span.start, "end": _FOREVER if span.end is None else span.end,
        "window": _FOREVER if query.window is None else query.window,
    }  # fmt: skip


def metric_totals(
    conn: Connection,
    endpoint: str,
    query: MetricQuery,
    users: dict[str, int],
    span: Span = ALL_TIME,
) -> dict[str, MetricTotals]:
    """Per variant: `users` (from `exposed_users`) and a binary or numeric metric's
    per-user aggregates over the users with data."""
    params = _params(endpoint, query, span)
    per_user = _PER_USER.format(columns=_NUMERIC_COLUMNS[query.per_user])
    cap = query.cap
    if query.cap_percentile is not None:
        cap = _percentile(conn, per_user, params, query.cap_percentile)
    params["cap"] = _FOREVER if cap is None else cap
    found = {row.variant: row for row in conn.execute(sa.text(per_user + _NUMERIC), params)}
    totals = {}
    for variant, n in users.items():
        row = found.get(variant)
        totals[variant] = (
            MetricTotals(
                n,
                int(row.with_data),
                int(row.converted or 0),
                float(row.mean),
                float(row.m2 or 0.0),
                cap,
            )
            if row
            else MetricTotals(n, 0, 0, 0.0, 0.0, cap)
        )
    return totals


def _percentile(
    conn: Connection, per_user: str, params: dict[str, Any], percentile: float
) -> float | None:
    """The per-user value at that percentile (nearest rank), over all variants' users with
    data; None without any."""
    count = int(conn.execute(sa.text(per_user + _COUNT), params).scalar_one())
    if count == 0:
        return None
    offset = max(0, math.ceil(percentile * count) - 1)
    found = conn.execute(sa.text(per_user + _AT_RANK), {**params, "offset": offset})
    return float(found.scalar_one())


def ratio_totals(
    conn: Connection,
    endpoint: str,
    query: MetricQuery,
    users: dict[str, int],
    span: Span = ALL_TIME,
) -> dict[str, RatioTotals]:
    """Per variant: `users` and a ratio metric's per-user sums' means and centred sums."""
    params = _params(endpoint, query, span)
    sql = sa.text(_PER_USER.format(columns=_RATIO_COLUMNS) + _RATIO)
    rows = conn.execute(sql, params)
    return _per_variant(rows, users, RatioTotals, ("mean_x", "mean_y", "m2_x", "m2_y", "c_xy"))


# CUPED (ADR 0026): the metric's per-user value Y as the report counts it, beside the mean
# of the user's covariate events X (any time: it is a pre-experiment value), over the users
# exposed in the span who have either; the others are zeros for both.
_JOINT = """
    , capped AS (
        SELECT unit, {value} AS y FROM per_user
    ), cov AS (
        SELECT COALESCE(f.user_key, i.user_key) AS unit, AVG(f.value) AS x
        FROM feedback f
        LEFT JOIN inferences i
            ON i.endpoint = f.endpoint AND i.inference_id = f.inference_id
        WHERE f.endpoint = :endpoint AND f.metric = :covariate AND ABS(f.value) <= :bound
        GROUP BY COALESCE(f.user_key, i.user_key)
    ), joint AS (
        SELECT e.variant AS variant, COALESCE(c.y, 0.0) AS y, COALESCE(v.x, 0.0) AS x
        FROM exposures e
        LEFT JOIN capped c ON c.unit = e.user_key
        LEFT JOIN cov v ON v.unit = e.user_key
        WHERE e.endpoint = :endpoint AND e.randomized = :randomized
            AND e.at >= :start AND e.at <= :end
            AND (c.unit IS NOT NULL OR v.unit IS NOT NULL)
    ), stats AS (
        SELECT variant, COUNT(*) AS n, AVG(y) AS my, AVG(x) AS mx FROM joint GROUP BY variant
    )
    SELECT j.variant AS variant, s.n AS with_data, s.my AS mean_y, s.mx AS mean_x,
        SUM((j.y - s.my) * (j.y - s.my)) AS m2_y, SUM((j.x - s.mx) * (j.x - s.mx)) AS m2_x,
        SUM((j.y - s.my) * (j.x - s.mx)) AS c_xy
    FROM joint j JOIN stats s ON s.variant = j.variant
    GROUP BY j.variant, s.n, s.my, s.mx
"""
_Y_BINARY = "CASE WHEN top > 0 THEN 1.0 ELSE 0.0 END"
_Y_NUMERIC = "CASE WHEN raw > :cap THEN :cap ELSE raw END"


def joint_totals(
    conn: Connection,
    endpoint: str,
    query: MetricQuery,
    covariate: str,
    binary: bool,
    users: dict[str, int],
    span: Span = ALL_TIME,
    cap: float | None = None,
) -> dict[str, JointTotals]:
    """Per variant: `users` and the joint moments of a binary or numeric metric's per-user
    value (capped at `cap`) and the covariate's."""
    params = _params(endpoint, query, span)
    params.update(covariate=covariate, cap=_FOREVER if cap is None else cap)
    per_user = _PER_USER.format(columns=_NUMERIC_COLUMNS[query.per_user])
    sql = sa.text(per_user + _JOINT.format(value=_Y_BINARY if binary else _Y_NUMERIC))
    rows = conn.execute(sql, params)
    return _per_variant(rows, users, JointTotals, ("mean_y", "mean_x", "m2_y", "m2_x", "c_xy"))


_Moments = TypeVar("_Moments", RatioTotals, JointTotals)


def _per_variant(
    rows: Iterable[Any], users: dict[str, int], make: type[_Moments], columns: tuple[str, ...]
) -> dict[str, _Moments]:
    """One totals per variant of `users`: its users, then with_data and `columns` of its row
    (the moments), or zeros for a variant without a row (no user with data)."""
    found = {row.variant: row for row in rows}
    totals = {}
    for variant, n in users.items():
        row = found.get(variant)
        moments = [float(getattr(row, c) or 0.0) if row else 0.0 for c in columns]
        totals[variant] = make(n, int(row.with_data) if row else 0, *moments)
    return totals


def feedback_counts(conn: Connection, endpoint: str) -> dict[str, tuple[int, int, int]]:
    """(events, unmatched, out of range) per metric: unmatched name a user or an inference
    id that no exposure of the endpoint has; out of range have |value| > MAX_VALUE (stored
    before the API refused them) and are left out of reports."""
    rows = conn.execute(_FEEDBACK_COUNTS, {"endpoint": endpoint, "bound": MAX_VALUE})
    return {
        row.metric: (int(row.events), int(row.unmatched or 0), int(row.out_of_range or 0))
        for row in rows
    }


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


def save_state(
    conn: Connection, endpoint: str, name: str, state: dict[str, Any], version: int
) -> bool:
    """Replace the state read at `version`; False (nothing written) if another report
    wrote one meanwhile: theirs stands, and the next look starts from it."""
    done = conn.execute(
        sa.update(experiments)
        .where(
            experiments.c.endpoint == endpoint,
            experiments.c.name == name,
            experiments.c.state_version == version,
        )
        .values(state=state, state_version=version + 1)
    )
    return bool(done.rowcount)


def _experiment(row: Any) -> ExperimentRow:
    return ExperimentRow(
        row.id, row.endpoint, row.name, row.definition, bool(row.auto_promote), row.status,
        row.created_at, row.stopped_at, row.outcome, row.state, int(row.state_version),
    )  # fmt: skip
