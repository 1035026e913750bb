"""Telling a store outage (retry later) from a bug, for the 503 mapping (ADR 0033).

The database being stopped, restarting, unreachable, or (SQLite) locked past the busy
timeout are conditions of the moment: the service layer raises `StoreUnavailable` for them
and the facades answer 503 ServiceUnavailable. Anything else a driver raises (a constraint
the code broke, a bad statement) stays an internal error with its traceback in the log.
"""

from __future__ import annotations

import sqlalchemy as sa

from turnout.errors import StoreUnavailable

# SQLite's words for "another connection holds the lock" (SQLITE_BUSY / SQLITE_LOCKED).
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def unavailable(exc: BaseException, dialect: str) -> StoreUnavailable | None:
    """The `StoreUnavailable` that `exc` amounts to, or None if it is no outage."""
    if isinstance(exc, sa.exc.TimeoutError):  # every pooled connection busy past pool_timeout
        return StoreUnavailable("all its connections are busy")
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    reason = _first_line(exc.orig) if exc.orig is not None else type(exc).__name__
    if exc.connection_invalidated:
        return StoreUnavailable(f"the connection was lost: {reason}")
    if dialect == "sqlite":
        if isinstance(exc, sa.exc.OperationalError) and any(
            words in reason.lower() for words in _SQLITE_BUSY
        ):
            return StoreUnavailable(f"SQLite: {reason}")
        return None
    # psycopg's OperationalError covers refused and lost connections, a server shutting
    # down (AdminShutdown) and cancelled statements (QueryCanceled); InterfaceError, a
    # connection closed under the driver.
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return StoreUnavailable(reason)
    return None


def _first_line(orig: BaseException) -> str:
    lines = str(orig).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else type(orig).__name__
    return text[:300]
