"""Inserting a row whose name must be unique, without relying on a failed INSERT.

`ON CONFLICT DO NOTHING` (SQLite and PostgreSQL alike) turns a taken name into "no row
inserted" instead of an IntegrityError: no aborted PostgreSQL transaction, no guessing
which constraint failed, and a concurrent insert of the same name simply waits and loses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_unless_name_taken(
    conn: Connection, table: sa.Table, values: Mapping[str, Any], *, live_only: bool
) -> int | None:
    """Insert `values` into `table`; return the new id, or None if the name is taken.

    `live_only`: the name is unique among rows not soft-deleted (a partial unique index).
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[table.c.name],
            index_where=table.c.deleted_at.is_(None) if live_only else None,
        )
        .returning(table.c.id)
    )
    new_id: int | None = conn.execute(stmt).scalar_one_or_none()
    return new_id
