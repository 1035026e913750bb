"""Every store test runs against SQLite (a file in tmp_path) and the real PostgreSQL.

PostgreSQL: one fresh database per test session (created from a connection to the
`test` database, dropped at the end) and one fresh schema per test inside it, so tests
never touch other data and can run again. When PostgreSQL does not answer, its params
skip, unless TURNOUT_REQUIRE_POSTGRES=1 (CI), which makes them fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from turnout.store import Store
from turnout.store.engine import normalize_url

from .postgres import POSTGRES_URL_VAR, REQUIRE_POSTGRES_VAR, admin_url, fresh_schema


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    url, why = admin_url()
    if url is None:
        message = f"PostgreSQL is not answering ({why}); set {POSTGRES_URL_VAR} to point at one"
        if os.environ.get(REQUIRE_POSTGRES_VAR) == "1":
            pytest.fail(f"{message} ({REQUIRE_POSTGRES_VAR}=1)", pytrace=False)
        pytest.skip(message)
    admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    name = f"turnout_test_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name)
    finally:
        with admin.connect() as conn:
            # FORCE: a test that failed may have left a connection open.
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'turnout.db'}"
    return fresh_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    try:
        yield opened
    finally:
        opened.close()
