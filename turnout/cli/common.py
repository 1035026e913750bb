"""What every `turnout` command shares: the server URL and credentials options, the console,
one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from turnout.client import (
    ACCESS_KEY_VAR,
    CREDENTIALS_VAR,
    DEFAULT_URL,
    MISSING_SIGNATURE,
    SECRET_KEY_VAR,
    Client,
    Credentials,
    TurnoutAuthError,
)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="TURNOUT_URL",
        help="The turnout server to talk to.",
        show_default=True,
    ),
]
# Sibling of Url: every command that takes --url takes it and passes it to connect().
CredentialsFile = Annotated[
    Path | None,
    typer.Option(
        "--credentials",
        envvar=CREDENTIALS_VAR,
        help="Sign requests with the first key pair in this file (~/.aws/credentials format), "
        f"for a server started with --credentials. Default: {ACCESS_KEY_VAR}/{SECRET_KEY_VAR} "
        "if set, else unsigned.",
        dir_okay=False,
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]

__all__ = [
    "DEFAULT_URL",
    "CredentialsFile",
    "Json",
    "Url",
    "connect",
    "console",
    "fail",
    "print_error",
    "print_json",
]


def print_error(message: str) -> None:
    """`error: message` as one line on stderr (escaped: messages quote `[a-z]` patterns)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line that says what went wrong and what to do, then exit."""
    print_error(message)
    raise typer.Exit(code)


@contextmanager
def connect(url: str, credentials: Path | None = None) -> Iterator[Client]:
    """A client for `url`, signing with the `credentials` file's first key pair, else with
    the environment's (TURNOUT_ACCESS_KEY_ID/...), else not at all."""
    keys = Credentials.from_file(credentials) if credentials is not None else None
    try:
        with Client(url, credentials=keys) as client:
            yield client
    except TurnoutAuthError as err:
        if err.code == MISSING_SIGNATURE:
            fail(
                f"turnout at {url} requires signed requests: pass --credentials FILE or set "
                f"{ACCESS_KEY_VAR}/{SECRET_KEY_VAR}"
            )
        raise


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
