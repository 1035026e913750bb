"""Shadow comparison tallies and inference experiments (ADR 0021), as rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.errors import AlreadyExists, NotFound
from turnout.store.schema import inference_experiments, shadow_comparisons


@dataclass(frozen=True)
class TallyRow:
    endpoint: str
    config: str
    variant: str
    shadow: str
    period_start: float
    document: dict[str, Any]


def add_tallies(conn: Connection, node: str, rows: Sequence[TallyRow]) -> None:
    if rows:
        conn.execute(
            sa.insert(shadow_comparisons),
            [
                {
                    "endpoint": r.endpoint,
                    "config": r.config,
                    "variant": r.variant,
                    "shadow": r.shadow,
                    "node": node,
                    "period_start": r.period_start,
                    "document": r.document,
                }
                for r in rows
            ],
        )


def tallies(conn: Connection, endpoint: str, since: float, until: float | None) -> list[TallyRow]:
    c = shadow_comparisons.c
    where = sa.and_(c.endpoint == endpoint, c.period_start >= since)
    if until is not None:
        where = sa.and_(where, c.period_start < until)
    return [
        TallyRow(r.endpoint, r.config, r.variant, r.shadow, r.period_start, r.document)
        for r in conn.execute(sa.select(shadow_comparisons).where(where).order_by(c.period_start))
    ]


def delete_tallies_before(conn: Connection, cutoff: float) -> int:
    result = conn.execute(
        sa.delete(shadow_comparisons).where(shadow_comparisons.c.period_start < cutoff)
    )
    return int(result.rowcount or 0)


def add_experiment(
    conn: Connection, name: str, endpoint: str, status: str, at: float, document: dict[str, Any]
) -> None:
    values = {
        "name": name,
        "endpoint": endpoint,
        "status": status,
        "created_at": at,
        "updated_at": at,
        "document": document,
    }
    taken = conn.execute(
        sa.select(inference_experiments.c.name).where(inference_experiments.c.name == name)
    ).first()
    if taken is not None:
        raise AlreadyExists("inference experiment", name)
    conn.execute(sa.insert(inference_experiments).values(**values))


def save_experiment(
    conn: Connection, name: str, status: str, at: float, document: dict[str, Any]
) -> None:
    result = conn.execute(
        sa.update(inference_experiments)
        .where(inference_experiments.c.name == name)
        .values(status=status, updated_at=at, document=document)
    )
    if result.rowcount == 0:
        raise NotFound("inference experiment", name)


def experiment(conn: Connection, name: str) -> dict[str, Any]:
    row = conn.execute(
        sa.select(inference_experiments.c.document).where(inference_experiments.c.name == name)
    ).first()
    if row is None:
        raise NotFound("inference experiment", name)
    document: dict[str, Any] = row.document
    return document


def experiments(conn: Connection, excluding: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every inference experiment, oldest first, but those whose status is in `excluding`."""
    query = sa.select(inference_experiments.c.document).order_by(
        inference_experiments.c.created_at, inference_experiments.c.name
    )
    if excluding:
        query = query.where(inference_experiments.c.status.not_in(excluding))
    return [r.document for r in conn.execute(query)]
