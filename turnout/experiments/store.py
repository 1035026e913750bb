"""The experiments' side of the store: one transaction per method, like `turnout.store`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from turnout.store import Store
from turnout.store import experiments as rows
from turnout.store.experiments import (
    ALL_TIME,
    ExperimentRow,
    ExposureRow,
    FeedbackRow,
    JointTotals,
    MetricQuery,
    MetricTotals,
    RatioTotals,
    Span,
)


class ExperimentStore:
    def __init__(self, store: Store) -> None:
        self._db = store.database

    def ensure_routing(
        self, endpoint: str, salt: str, document: dict[str, Any], at: float
    ) -> tuple[str, dict[str, Any]]:
        """The endpoint's (salt, document); created with these if absent. The node agent
        asks every second: a read, unless this is the first time (no write lock taken)."""
        with self._db.read() as conn:
            found = rows.routing(conn, endpoint)
        if found is not None:
            return found
        with self._db.write() as conn:
            return rows.ensure_routing(conn, endpoint, salt, document, at)

    def routing(self, endpoint: str) -> tuple[str, dict[str, Any]] | None:
        """The endpoint's (salt, routing document), or None before its first use."""
        with self._db.read() as conn:
            return rows.routing(conn, endpoint)

    def save_salt(self, endpoint: str, salt: str, at: float) -> None:
        with self._db.write() as conn:
            rows.save_salt(conn, endpoint, salt, at)

    def save_routing(self, endpoint: str, document: dict[str, Any], at: float) -> None:
        with self._db.write() as conn:
            rows.save_routing(conn, endpoint, document, at)

    def add_exposures(self, batch: Sequence[ExposureRow]) -> None:
        with self._db.write() as conn:
            rows.add_exposures(conn, batch)

    def add_feedback(self, batch: Sequence[FeedbackRow]) -> None:
        with self._db.write() as conn:
            rows.add_feedback(conn, batch)

    def exposed_variant(self, endpoint: str, user: str) -> str | None:
        with self._db.read() as conn:
            return rows.exposed_variant(conn, endpoint, user)

    def delete_before(self, cutoff: float) -> int:
        with self._db.write() as conn:
            return rows.delete_before(conn, cutoff)

    def metric_totals(
        self, endpoint: str, queries: Mapping[str, MetricQuery], span: Span = ALL_TIME
    ) -> dict[str, dict[str, MetricTotals | RatioTotals]]:
        """Per metric (by its name in `queries`), per variant; all read in one snapshot."""
        with self._db.read() as conn:
            users = rows.exposed_users(conn, endpoint, span)
            found: dict[str, dict[str, MetricTotals | RatioTotals]] = {}
            for name, query in queries.items():
                if query.ratio:
                    found[name] = dict(rows.ratio_totals(conn, endpoint, query, users, span))
                else:
                    found[name] = dict(rows.metric_totals(conn, endpoint, query, users, span))
            return found

    def joint_totals(
        self,
        endpoint: str,
        queries: Mapping[str, tuple[MetricQuery, str, bool, float | None]],
        span: Span = ALL_TIME,
    ) -> dict[str, dict[str, JointTotals]]:
        """Per metric: (query, covariate, binary, cap) → per variant, the joint moments of
        the metric's per-user value and its covariate (CUPED); one snapshot."""
        with self._db.read() as conn:
            users = rows.exposed_users(conn, endpoint, span)
            return {
                name: rows.joint_totals(conn, endpoint, query, covariate, binary, users, span, cap)
                for name, (query, covariate, binary, cap) in queries.items()
            }

    def feedback_counts(self, endpoint: str) -> dict[str, tuple[int, int, int]]:
        with self._db.read() as conn:
            return rows.feedback_counts(conn, endpoint)

    def add_experiment(
        self, endpoint: str, name: str, definition: dict[str, Any], auto_promote: bool, at: float
    ) -> ExperimentRow:
        with self._db.write() as conn:
            return rows.add_experiment(conn, endpoint, name, definition, auto_promote, at)

    def get_experiment(self, endpoint: str, name: str) -> ExperimentRow:
        with self._db.read() as conn:
            return rows.get_experiment(conn, endpoint, name)

    def list_experiments(self, endpoint: str | None = None) -> list[ExperimentRow]:
        with self._db.read() as conn:
            return rows.list_experiments(conn, endpoint)

    def finish_experiment(
        self, endpoint: str, name: str, status: str, outcome: str, at: float
    ) -> bool:
        with self._db.write() as conn:
            return rows.finish_experiment(conn, endpoint, name, status, outcome, at)

    def save_state(self, endpoint: str, name: str, state: dict[str, Any], version: int) -> bool:
        with self._db.write() as conn:
            return rows.save_state(conn, endpoint, name, state, version)
