from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from turnout.store import Store
from turnout.store.engine import Database
from turnout.store.migrate import SchemaTooNew, alembic_config, upgrade_to_head
from turnout.store.schema import metadata

from .builders import model

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        database.dispose()


def _revisions(db: Database) -> tuple[str, ...]:
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_heads()


def test_open_migrates_an_empty_database_to_head(db_url: str, db: Database) -> None:
    assert _revisions(db) == ()
    Store.open(db_url).close()
    assert _revisions(db) == (HEAD,)


def test_head_matches_the_metadata(db_url: str, db: Database) -> None:
    """The migrations build exactly the tables `schema.py` declares."""
    Store.open(db_url).close()
    with db.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_opening_again_is_a_no_op(db_url: str, db: Database) -> None:
    first = Store.open(db_url)
    first.add_model(model("m"))
    second = Store.open(db_url)  # while the first is still open, like a second process
    try:
        assert second.get_model("m") == model("m")
        assert _revisions(db) == (HEAD,)
    finally:
        first.close()
        second.close()


def open_at_once(url: str, openers: int = 4) -> list[BaseException]:
    """Open and close the store from `openers` threads released together; their errors."""
    errors: list[BaseException] = []
    start = threading.Barrier(openers)

    def open_and_close() -> None:
        start.wait()
        try:
            Store.open(url).close()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=open_and_close) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_first_opens_migrate_once(db_url: str, db: Database) -> None:
    assert open_at_once(db_url) == []
    assert _revisions(db) == (HEAD,)


def test_new_sqlite_files_opened_by_several_at_once_never_report_locked(
    tmp_path: Path,
) -> None:
    """Switching a new file to WAL races between openers; SQLite fails the loser at once.

    Without the retry about 1 round in 10 failed with "database is locked", so 30 rounds
    catch a regression with ~95% probability.
    """
    for round_ in range(30):
        url = f"sqlite:///{tmp_path / f'r{round_}' / 'turnout.db'}"
        assert open_at_once(url) == [], f"round {round_}"


def test_downgrade_to_base_and_back(db_url: str, db: Database) -> None:
    """Every revision's downgrade works, so a migration can be rolled back by hand."""
    Store.open(db_url).close()
    config = alembic_config()
    with db.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with db.read() as conn:
        assert set(sa.inspect(conn).get_table_names()) == {"alembic_version"}
    upgrade_to_head(db)
    assert _revisions(db) == (HEAD,)


def test_a_database_from_a_newer_turnout_is_refused(db_url: str, db: Database) -> None:
    Store.open(db_url).close()
    with db.write() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaTooNew, match=r"revision 9999_future.*newer turnout"):
        Store.open(db_url)
