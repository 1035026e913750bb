"""A store that cannot answer now raises StoreUnavailable (the facades' 503); other
database errors stay what they are (ADR 0033)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from turnout.errors import StoreUnavailable
from turnout.store import engine
from turnout.store.engine import Database
from turnout.store.outage import unavailable


def test_sqlite_locked_past_the_busy_timeout_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "store.db"
    db = Database(f"sqlite:///{path}")
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than we wait
        with pytest.raises(StoreUnavailable) as caught, db.write() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert "database is locked" in str(caught.value)
        assert "retry" in str(caught.value)
    finally:
        holder.close()
    with db.write() as conn:  # the lock gone, the same Database works again
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    db.dispose()


def test_a_postgresql_server_that_is_not_there_is_unavailable_fast() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    db = Database("postgresql://nobody@127.0.0.1:9/none")
    with pytest.raises(StoreUnavailable) as caught, db.read() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert "refused" in str(caught.value).lower() or "failed" in str(caught.value).lower()
    db.dispose()


def test_a_bug_stays_a_bug(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(sa.exc.OperationalError), db.read() as conn:
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    db.dispose()
    assert unavailable(ValueError("not a database error"), "sqlite") is None
