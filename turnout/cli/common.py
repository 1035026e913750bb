"""What every `turnout` command shares: the server URL option, the console, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from turnout.client import DEFAULT_URL, Client

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
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]

__all__ = [
    "DEFAULT_URL",
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
def connect(url: str) -> Iterator[Client]:
    with Client(url) as client:
        yield client


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
