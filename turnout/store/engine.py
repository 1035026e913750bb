"""Connecting to the database: URL normalization, SQLite tuning, and transaction scopes."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from turnout.store.outage import unavailable

SQLITE_BUSY_TIMEOUT_S = 30.0
# PostgreSQL's bounds: connecting, waiting for a pooled connection, and noticing a server
# that went silent mid-call (TCP keepalives: idle 10 s, then 3 probes 5 s apart).
PG_CONNECT_TIMEOUT_S = 5
PG_POOL_TIMEOUT_S = 10.0
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                 "keepalives_count": 3}  # fmt: skip
# Execution option that marks a connection as about to write (see `_sqlite_begin`).
_WRITE = "turnout_write"


def normalize_url(url: str) -> URL:
    """Parse `url`; a PostgreSQL URL without a driver uses psycopg 3.

    `postgres://` (Heroku-style, not accepted by SQLAlchemy) means PostgreSQL too.
    """
    parsed = sa.make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend == "postgresql" and not driver:
        driver = "psycopg"
    return parsed.set(drivername=f"{backend}+{driver}" if driver else backend)


def is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def create_engine(url: str) -> Engine:
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    # The schema relies on partial unique indexes and ON CONFLICT, which these two share.
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"turnout stores its state in SQLite or PostgreSQL, not {backend!r}")
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    return _postgresql_engine(parsed)


def _postgresql_engine(url: URL) -> Engine:
    """Every wait on a server that is down or unreachable bounded (ADR 0033): such a call
    fails in seconds instead of holding an API request (and its worker thread) for minutes.
    No statement timeout: a slow query on a live server (experiment statistics over much
    feedback) is not an outage."""
    defaults = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **PG_KEEPALIVES}
    # The URL's own choices win.
    connect_args = {k: v for k, v in defaults.items() if k not in url.query}
    return sa.create_engine(
        url,
        # pre_ping: a PostgreSQL restart must not surface as errors on the next calls.
        pool_pre_ping=True,
        pool_timeout=PG_POOL_TIMEOUT_S,
        connect_args=connect_args,
    )


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {}
    if is_memory_sqlite(url):
        # One connection holds the whole database; `Database` serializes access to it.
        kwargs["poolclass"] = StaticPool
    elif url.database and not url.database.startswith("file:"):
        path = Path(url.database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=str(path))
    engine = sa.create_engine(
        url,
        # The server calls the store from several worker threads.
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
        **kwargs,
    )
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see `_sqlite_begin`) instead of the sqlite3
    # module's legacy implicit transactions, which skip BEGIN for SELECT and DDL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """WAL: readers never block the writer and vice versa.

    Switching a new database to WAL needs its exclusive lock, and SQLite answers "database
    is locked" at once, without the busy handler, while another connection holds it (several
    processes opening a new data dir together). The switch is short: retry for as long as
    the busy timeout would have waited.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for a concurrent
    # writer (SQLite fails it at once with "database is locked"); taking the write lock
    # up front with BEGIN IMMEDIATE makes writers queue on the busy timeout instead.
    immediate = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine plus the two kinds of transaction the store runs: read and write."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.dialect = self.engine.dialect.name
        # An in-memory SQLite database is one shared connection: use it one at a time.
        memory = self.dialect == "sqlite" and is_memory_sqlite(self.engine.url)
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if memory else contextlib.nullcontext()
        )

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction holding the database's write lock on SQLite; commits on success.

        StoreUnavailable when the database cannot answer now (see turnout.store.outage).
        """
        with self._outage(), self._lock, self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """One transaction reading a consistent snapshot.

        SQLite's transactions are snapshots already; PostgreSQL's default (READ COMMITTED)
        lets each statement see newer commits, so a value read in several statements
        (an endpoint and its variant states) could mix two writes. REPEATABLE READ cannot
        fail a read-only transaction.
        """
        with self._outage(), self._lock, self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _outage(self) -> Iterator[None]:
        """Driver errors that mean "the database cannot answer now" as StoreUnavailable."""
        try:
            yield
        except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
            outage = unavailable(exc, self.dialect)
            if outage is None:
                raise
            raise outage from exc

    def dispose(self) -> None:
        self.engine.dispose()
