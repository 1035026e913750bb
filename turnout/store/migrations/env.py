"""alembic environment of the store.

At run time `turnout.store.migrate` passes an open connection (already inside its
transaction) in `config.attributes["connection"]`. To write a new revision, compare
the schema against a database at head:

    python -m turnout.store.migrate -x url=sqlite:///tmp/dev.db revision --autogenerate -m "..."
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from turnout.store.engine import create_engine
from turnout.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; autogenerate must write batch operations.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database URL: -x url=...")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("turnout's migrations run online only")
_run_online()
