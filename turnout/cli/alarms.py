"""`turnout alarm ...`: alarms on an endpoint's metrics, evaluated by the server every second."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from turnout.cli.common import (
    DEFAULT_URL,
    CredentialsFile,
    Json,
    Url,
    connect,
    console,
    print_json,
)
from turnout.cli.models import format_time
from turnout.client import AlarmInfo
from turnout.domain.alarms import MissingData, watched_traffic
from turnout.domain.rollups import Metric

app = typer.Typer(
    help="Alarms: thresholds on an endpoint's metrics (CloudWatch-style); deployments roll "
    "back when theirs go off.",
    no_args_is_help=True,
)


COMPARISONS = {
    "GreaterThanThreshold": (">", "gt"),
    "GreaterThanOrEqualToThreshold": (">=", "ge"),
    "LessThanThreshold": ("<", "lt"),
    "LessThanOrEqualToThreshold": ("<=", "le"),
}
SYMBOL = {name: forms[0] for name, forms in COMPARISONS.items()}
STATE_COLOUR = {"OK": "green", "ALARM": "red", "INSUFFICIENT_DATA": "yellow"}


def parse_comparison(text: str) -> str:
    """`>`, `gt` or `GreaterThanThreshold` (any case) → `GreaterThanThreshold`; likewise the
    others."""
    wanted = text.strip().lower()
    for name, forms in COMPARISONS.items():
        if wanted == name.lower() or wanted in forms:
            return name
    accepted = ", ".join(f"{forms[0]} ({name})" for name, forms in COMPARISONS.items())
    raise typer.BadParameter(f"{text!r} is not a comparison; use {accepted}")


Name = Annotated[str, typer.Argument(help="Alarm name.")]


@app.command("create")
def create_alarm(
    name: Name,
    endpoint: Annotated[str, typer.Option("--endpoint", "-e", help="The endpoint to watch.")],
    metric: Annotated[Metric, typer.Option(help="The SageMaker metric.")],
    threshold: Annotated[float, typer.Option(help="The value to compare with.")],
    comparison: Annotated[
        str,
        typer.Option(
            help="GreaterThanThreshold (or >, gt), GreaterThanOrEqualToThreshold (>=, ge), "
            "LessThanThreshold (<, lt), LessThanOrEqualToThreshold (<=, le)."
        ),
    ],
    statistic: Annotated[
        str,
        typer.Option(
            help="Sum, SampleCount, Average, Minimum, Maximum, p50, p90 or p99. Average of an "
            "error count is the error rate; latencies are in microseconds."
        ),
    ] = "Average",
    variant: Annotated[
        str | None, typer.Option(help="Only this variant (default: the whole endpoint).")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Only this endpoint config's fleet, e.g. the green config of a deployment, "
            "so the old fleet's traffic does not dilute the new one's error rate "
            "(default: every fleet).",
        ),
    ] = None,
    period: Annotated[int, typer.Option(help="Seconds per datapoint, a multiple of 10.")] = 10,
    evaluation_periods: Annotated[
        int, typer.Option(help="How many recent datapoints to look at.")
    ] = 1,
    datapoints_to_alarm: Annotated[
        int | None, typer.Option(help="How many of them must breach (default: all).")
    ] = None,
    treat_missing_data: Annotated[
        MissingData, typer.Option(help="What periods without invocations count as.")
    ] = MissingData.MISSING,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Create an alarm, e.g. `--endpoint digits --metric Invocation5XXErrors --threshold 0.05
    --comparison '>'` (Average error rate above 5%)."""
    with connect(url, credentials) as client:
        alarm = client.create_alarm(
            name, endpoint, metric.value, statistic, threshold,
            parse_comparison(comparison), variant=variant, config=config, period=period,
            evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=treat_missing_data.value,
        )  # fmt: skip
    if as_json:
        print_json(alarm)
        return
    console.print(f"alarm [bold]{escape(name)}[/] created")
    console.print(alarms_table([alarm]))


@app.command("list")
def list_alarms(
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="Only this endpoint's.")
    ] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """List alarms with their state."""
    with connect(url, credentials) as client:
        alarms = client.list_alarms(endpoint)
    if as_json:
        print_json(alarms)
        return
    console.print(alarms_table(alarms))


@app.command("describe")
def describe_alarm(
    name: Name, url: Url = DEFAULT_URL, credentials: CredentialsFile = None, as_json: Json = False
) -> None:
    """Show an alarm: its condition, state, why, and its latest state changes."""
    with connect(url, credentials) as client:
        alarm = client.describe_alarm(name)
    if as_json:
        print_json(alarm)
        return
    console.print(alarms_table([alarm]))
    console.print(f"[bold]reason[/] {escape(alarm['reason'])}")
    history = Table("at", "from", "to", "reason", box=None)
    for change in alarm["history"] or []:
        history.add_row(
            format_time(change["at"]), state_text(change["old_state"]),
            state_text(change["new_state"]), escape(change["reason"]),
        )  # fmt: skip
    if history.row_count:
        console.print(history)


@app.command("delete")
def delete_alarm(name: Name, url: Url = DEFAULT_URL, credentials: CredentialsFile = None) -> None:
    """Delete an alarm."""
    with connect(url, credentials) as client:
        client.delete_alarm(name)
    console.print(f"alarm [bold]{escape(name)}[/] deleted")


def condition(alarm: AlarmInfo) -> str:
    """e.g. `Invocation5XXErrors Average > 0.05 in 1 of 1 periods of 10 s`."""
    needed = alarm["datapoints_to_alarm"] or alarm["evaluation_periods"]
    return (
        f"{alarm['metric']} {alarm['statistic']} {SYMBOL[alarm['comparison']]} "
        f"{alarm['threshold']:g} in {needed} of {alarm['evaluation_periods']} periods of "
        f"{alarm['period']} s"
    )


def state_text(state: str) -> str:
    return f"[{STATE_COLOUR.get(state, 'yellow')}]{state}[/]"


def alarms_table(alarms: list[AlarmInfo]) -> Table:
    table = Table("alarm", "endpoint", "watches", "condition", "state", "since", box=None)
    for a in alarms:
        table.add_row(
            escape(a["name"]), a["endpoint"], escape(watched_traffic(a["variant"], a["config"])),
            condition(a),
            state_text(a["state"]), format_time(a["state_updated_at"]),
        )  # fmt: skip
    return table
