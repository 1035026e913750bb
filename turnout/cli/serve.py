"""`turnout serve`: run the router, control plane and instances until Ctrl-C."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler

import turnout
from turnout.cli.common import console, fail
from turnout.server import ServeError, bind, serve
from turnout.settings import Settings, default_data_dir


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on. Keep 127.0.0.1 unless you need others.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the APIs and invocations.")] = 8080,
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            envvar="TURNOUT_DATA_DIR",
            help="Where the store, model copies and instance logs live.",
            file_okay=False,
        ),
    ] = default_data_dir(),
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="TURNOUT_DB",
            help="SQLAlchemy URL of the store "
            "(e.g. postgresql+psycopg://127.0.0.1/turnout). Default: DATA_DIR/turnout.db.",
        ),
    ] = None,
    model_timeout: Annotated[
        float, typer.Option(help="Seconds the router waits for a model's answer.", min=0.1)
    ] = 60.0,
    startup_timeout: Annotated[
        float,
        typer.Option(help="Seconds an instance may take to load its model and pass /ping.", min=1),
    ] = 300.0,
    instance_memory_limit: Annotated[
        int,
        typer.Option(
            "--instance-memory-limit",
            help="Restart an instance whose resident memory exceeds this many MB (0: no limit).",
            min=0,
        ),
    ] = 4096,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error.", case_sensitive=False)
    ] = "info",
) -> None:
    """Run turnout: the router, the control plane and the model instances, until Ctrl-C."""
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        fail(f"unknown --log-level {log_level!r}: use debug, info, warning or error")
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, markup=False)],
    )
    settings = Settings(
        data_dir=data_dir.expanduser(),
        db_url=db,
        host=host,
        port=port,
        model_timeout=model_timeout,
        startup_timeout=startup_timeout,
        instance_memory_limit_mb=instance_memory_limit or None,
    )
    try:
        sock = bind(host, port)
    except ServeError as exc:
        fail(str(exc))
    url = f"http://{host}:{sock.getsockname()[1]}"
    console.print(
        f"turnout {turnout.__version__} serving on [bold]{url}[/]  "
        f"(data {settings.data_dir}, API docs {url}/api/v1/docs)"
    )
    try:
        serve(settings, sock)
    except ServeError as exc:
        fail(str(exc))
