"""Drift monitoring's rows (ADR 0041): one baseline per endpoint (a JSON document, see
turnout.drift.baseline) and drift reports per variant, newest KEEP_REPORTS kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from turnout.store import Store
from turnout.store.schema import drift_baselines, drift_reports

KEEP_REPORTS = 500  # per endpoint: older ones are deleted as new ones come


@dataclass(frozen=True)
class StoredReport:
    endpoint: str
    variant: str
    computed_at: float
    document: dict[str, Any]


class DriftStore:
    def __init__(self, store: Store) -> None:
        self._db = store.database

    def put_baseline(self, endpoint: str, document: dict[str, Any], at: float) -> None:
        with self._db.write() as conn:
            c = drift_baselines.c
            conn.execute(sa.delete(drift_baselines).where(c.endpoint == endpoint))
            conn.execute(
                sa.insert(drift_baselines).values(
                    endpoint=endpoint, document=document, created_at=at
                )
            )

    def baseline(self, endpoint: str) -> dict[str, Any] | None:
        with self._db.read() as conn:
            c = drift_baselines.c
            row = conn.execute(sa.select(c.document).where(c.endpoint == endpoint)).first()
        return None if row is None else dict(row.document)

    def baselines(self) -> dict[str, dict[str, Any]]:
        """Every endpoint's baseline, by endpoint."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(drift_baselines)).all()
        return {r.endpoint: dict(r.document) for r in rows}

    def delete_baseline(self, endpoint: str) -> bool:
        with self._db.write() as conn:
            c = drift_baselines.c
            gone = conn.execute(sa.delete(drift_baselines).where(c.endpoint == endpoint))
            conn.execute(sa.delete(drift_reports).where(drift_reports.c.endpoint == endpoint))
        return bool(gone.rowcount)

    def add_report(self, endpoint: str, variant: str, at: float, document: dict[str, Any]) -> None:
        with self._db.write() as conn:
            c = drift_reports.c
            conn.execute(
                sa.insert(drift_reports).values(
                    endpoint=endpoint, variant=variant, computed_at=at, document=document
                )
            )
            cutoff = conn.execute(
                sa.select(c.id)
                .where(c.endpoint == endpoint)
                .order_by(c.id.desc())
                .offset(KEEP_REPORTS)
                .limit(1)
            ).scalar()
            if cutoff is not None:
                conn.execute(sa.delete(drift_reports).where(c.endpoint == endpoint, c.id <= cutoff))

    def reports(self, endpoint: str, since: float = 0.0) -> list[StoredReport]:
        """The endpoint's reports computed at or after `since`, oldest first."""
        with self._db.read() as conn:
            c = drift_reports.c
            rows = conn.execute(
                sa.select(drift_reports)
                .where(c.endpoint == endpoint, c.computed_at >= since)
                .order_by(c.id)
            ).all()
        return [StoredReport(r.endpoint, r.variant, r.computed_at, dict(r.document)) for r in rows]

    def latest(self, endpoint: str) -> list[StoredReport]:
        """The newest report of each variant of the endpoint (one query, by variant)."""
        c = drift_reports.c
        newest = (
            sa.select(sa.func.max(c.id)).where(c.endpoint == endpoint).group_by(c.variant)
        ).scalar_subquery()
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(drift_reports).where(c.id.in_(newest)).order_by(c.variant)
            ).all()
        return [StoredReport(r.endpoint, r.variant, r.computed_at, dict(r.document)) for r in rows]
