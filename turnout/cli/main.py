"""The `turnout` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

import turnout
from turnout.cli import (
    alarms,
    check,
    demo,
    deploy,
    endpoints,
    experiments,
    invoke,
    loadtest,
    metrics,
    models,
    monitor,
    nodes,
    scaling,
    shadow,
    size,
    top,
)
from turnout.cli.common import print_error
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
app.add_typer(deploy.app, name="deploy")
app.command("traffic")(endpoints.traffic_command)
app.add_typer(alarms.app, name="alarm")
app.command("metrics")(metrics.metrics_command)
app.command("invoke")(invoke.invoke_command)
app.command("check")(check.check_command)
app.command("demo")(demo.demo_command)
app.command("top")(top.top_command)
app.command("loadtest")(loadtest.loadtest_command)
app.command("size")(size.size_command)
app.command("nodes")(nodes.nodes_command)
app.add_typer(experiments.routing_app, name="routing")
app.command("feedback")(experiments.feedback_command)
app.add_typer(experiments.experiment_app, name="experiment")
app.add_typer(shadow.app, name="shadow")
app.add_typer(scaling.app, name="scaling")
app.add_typer(monitor.app, name="monitor")


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


# Typer vendors click (typer._click) in recent versions and uses click itself in older ones;
# the public BadParameter leads to the right ClickException either way.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def run(args: Sequence[str] | None = None) -> int:
    """Run `turnout ARGS` (default: sys.argv[1:]) and return its exit status.

    Errors a person can cause print one line on stderr, never a traceback: bad arguments
    (status 2, with the help command to look at) and client errors (status 1).
    """
    try:
        status = app(args=args, prog_name="turnout", standalone_mode=False)
    except TurnoutClientError as exc:
        print_error(str(exc))
        return 1
    except _ClickException as exc:
        message = exc.format_message()  # type: ignore[attr-defined]
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is printed already
            return 2
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} -h')" if ctx is not None else ""
        print_error(f"{message}{hint}")
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        print_error("aborted")
        return 1
    except KeyboardInterrupt:
        return 130
    return status if isinstance(status, int) else 0


def main() -> None:
    """Entry point of the `turnout` executable."""
    sys.exit(run())


if __name__ == "__main__":
    main()
