"""The PostgreSQL server the tests use: finding it, and fresh schemas inside it."""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from turnout.store.engine import normalize_url

# Overrides the candidates below: a URL of an existing database we may create others from.
POSTGRES_URL_VAR = "TURNOUT_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VAR = "TURNOUT_REQUIRE_POSTGRES"


def _admin_candidates() -> list[str]:
    if url := os.environ.get(POSTGRES_URL_VAR):
        return [url]
    users = dict.fromkeys(["postgres", getpass.getuser()])  # ordered, without repeats
    return [f"postgresql://{user}@127.0.0.1:5432/test" for user in users]


@functools.cache  # probe once per session: a server that does not answer costs a timeout
def admin_url() -> tuple[str | None, str]:
    """The URL of a database to create others from, or None and why not."""
    errors = []
    for url in _admin_candidates():
        engine = sa.create_engine(normalize_url(url), connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as err:
            errors.append(f"{url}: {str(err.orig).strip().splitlines()[0]}")
            continue
        finally:
            engine.dispose()
        return url, ""
    return None, "; ".join(errors)


def fresh_schema(database: URL) -> str:
    """The URL of a new, empty schema in `database` (first on the search path)."""
    schema = f"t_{secrets.token_hex(6)}"
    engine = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    url = database.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[URL]:
    """A new, empty PostgreSQL database, dropped on exit.

    When no server answers, the test skips, unless TURNOUT_REQUIRE_POSTGRES=1 (CI) makes
    that a failure.
    """
    url, why = admin_url()
    if url is None:
        message = f"PostgreSQL is not answering ({why}); set {POSTGRES_URL_VAR} to point at one"
        if os.environ.get(REQUIRE_POSTGRES_VAR) == "1":
            pytest.fail(f"{message} ({REQUIRE_POSTGRES_VAR}=1)", pytrace=False)
        pytest.skip(message)
    admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name)
    finally:
        with admin.connect() as conn:
            # FORCE: a failed test, or a server a test killed, may hold a connection.
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
