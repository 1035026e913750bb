"""The `turnout` command."""

from __future__ import annotations

import sys

import typer

import turnout
from turnout.cli import demo, endpoints, invoke, models
from turnout.cli.common import err_console
from turnout.cli.serve import serve_command
from turnout.client import TurnoutClientError

app = typer.Typer(
    name="turnout",
    help="Deploy machine-learning models safely on your own machines: several models behind "
    "one endpoint as weighted production variants.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve_command)
app.add_typer(models.app, name="model")
app.add_typer(endpoints.config_app, name="endpoint-config")
app.add_typer(endpoints.app, name="endpoint")
app.command("traffic")(endpoints.traffic_command)
app.command("invoke")(invoke.invoke_command)
app.command("demo")(demo.demo_command)


def _version(value: bool) -> None:
    if value:
        print(f"turnout {turnout.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """turnout: weighted production variants, live traffic changes and safe deployments."""


def main() -> None:
    """Entry point: client errors become one line on stderr and exit status 1."""
    try:
        app()
    except TurnoutClientError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
