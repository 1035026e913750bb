from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from turnout.store import Store
from turnout.store.engine import Database, normalize_url

from .builders import model
from .postgres import fresh_schema


@pytest.mark.parametrize(
    ("url", "drivername"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2"),
        ("postgres+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite"),
    ],
)
def test_normalize_url_names_psycopg_when_no_driver_is_given(url: str, drivername: str) -> None:
    normalized = normalize_url(url)
    assert normalized.drivername == drivername
    assert normalized.database == sa.make_url(url).database


def test_other_databases_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL, not 'mysql'"):
        Store.open("mysql://u@localhost/db")


def test_sqlite_creates_parent_directories_and_tunes_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "turnout.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        db.dispose()
    assert path.exists()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}


def test_in_memory_sqlite_is_one_database_shared_by_threads() -> None:
    store = Store.open("sqlite://")
    try:
        threads = [
            threading.Thread(target=store.add_model, args=(model(f"m{i}"),)) for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.list_models()) == 8
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgres_urls_open_with_psycopg(postgres_database: sa.URL, scheme: str) -> None:
    url = fresh_schema(postgres_database).replace("postgresql+psycopg", scheme, 1)
    store = Store.open(url)
    try:
        store.add_model(model("m"))
        assert store.get_model("m") == model("m")
    finally:
        store.close()


def test_sqlite_path_may_start_with_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    Store.open("sqlite:///~/.turnout/turnout.db").close()
    assert (tmp_path / ".turnout" / "turnout.db").exists()
