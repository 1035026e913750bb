"""Every store test runs against SQLite (a file in tmp_path) and the real PostgreSQL.

PostgreSQL: one fresh database per test session (created from a connection to the
`test` database, dropped at the end) and one fresh schema per test inside it, so tests
never touch other data and can run again. When PostgreSQL does not answer, its params
skip, unless TURNOUT_REQUIRE_POSTGRES=1 (CI), which makes them fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from turnout.store import Store

from .postgres import fresh_database, fresh_schema


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    with fresh_database("turnout_test") as url:
        yield url


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
