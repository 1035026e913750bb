"""Migrating the schema to the latest alembic revision, programmatically.

The migration scripts ship inside the package (`turnout/store/migrations`), so this works
from any install without an alembic.ini. Several processes may open the same database at
once: each migrates under a database-wide lock, so the first one upgrades and the others
then find the schema at head and do nothing.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import CommandLine, Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from turnout.store.engine import Database

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
# Key of the PostgreSQL advisory lock held while migrating ("turnout" in ASCII).
_PG_MIGRATION_LOCK = 0x7475726E6F7574


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer turnout than this one."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_to_head(db: Database) -> None:
    """Bring the schema to the latest revision; a no-op when it is there already."""
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    # On SQLite the write transaction holds the database's write lock, which is enough;
    # PostgreSQL needs an explicit lock (its DDL is transactional, so one transaction
    # covers the check and the whole upgrade).
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        current = set(MigrationContext.configure(conn).get_current_heads())
        known = {revision.revision for revision in script.walk_revisions()}
        if unknown := current - known:
            where = db.engine.url.render_as_string(hide_password=True)
            raise SchemaTooNew(
                f"The database {where} is at schema revision {', '.join(sorted(unknown))}, "
                "which this turnout does not know: it was written by a newer turnout. "
                "Upgrade turnout, or use another database."
            )
        if current == set(script.get_heads()):
            return
        # env.py runs the migrations on this connection, inside this transaction.
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def main(argv: list[str] | None = None) -> None:
    """alembic's command line, pointed at the store's migrations (for developers)."""
    cli = CommandLine(prog="python -m turnout.store.migrate")
    options = cli.parser.parse_args(argv)
    config = alembic_config()
    config.cmd_opts = options
    cli.run_cmd(config, options)


if __name__ == "__main__":
    main()
