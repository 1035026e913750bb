"""`turnout scaling ...`: what autoscaling does (ADR 0036). Targets and policies are set
with boto3's application-autoscaling client (docs/autoscaling.md); these commands read."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from turnout.cli.common import DEFAULT_URL, CredentialsFile, Url, connect, console
from turnout.cli.models import format_time

app = typer.Typer(
    help="Autoscaling: scalable targets, their policies and the scaling activities "
    "(set them with boto3's application-autoscaling client).",
    no_args_is_help=True,
)
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
STATUS_COLOUR = {"Successful": "green", "Failed": "red", "InProgress": "yellow"}


@app.command("targets")
def targets_command(
    as_json: Json = False, url: Url = DEFAULT_URL, credentials: CredentialsFile = None
) -> None:
    """List the scalable targets: each variant's instance range and its scaling policies."""
    with connect(url, credentials) as client:
        targets = client.scaling_targets()
    if as_json:
        console.print_json(json.dumps(targets))
        return
    table = Table(title_justify="left")
    for column in ("endpoint", "variant", "min", "max", "policies", "suspended"):
        table.add_column(column)
    if not targets:
        table.caption = "no scalable target; register one with RegisterScalableTarget"
    for t in targets:
        policies = "\n".join(f"{p['name']}: {p['summary']}" for p in t["policies"]) or "none"
        table.add_row(
            escape(t["endpoint"]), escape(t["variant"]), str(t["min_capacity"]),
            str(t["max_capacity"]), escape(policies), ", ".join(t["suspended"]) or "no",
        )  # fmt: skip
    console.print(table)


@app.command("activities")
def activities_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    variant: Annotated[str | None, typer.Option(help="Only this variant.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=200)] = 20,
    as_json: Json = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """List an endpoint's scaling activities, newest first, with their causes."""
    with connect(url, credentials) as client:
        activities = client.scaling_activities(endpoint, variant, limit)
    if as_json:
        console.print_json(json.dumps(activities))
        return
    console.print(activities_table(endpoint, activities))


def activities_table(endpoint: str, activities: list[dict[str, Any]]) -> Table:
    table = Table(title=f"scaling activities of {escape(endpoint)}", title_justify="left")
    for column in ("started", "variant", "instances", "status", "cause"):
        table.add_column(column)
    if not activities:
        table.caption = "no scaling activity yet"
    for a in activities:
        colour = STATUS_COLOUR.get(a["status"], "white")
        cause = a["cause"] + (f"\n{a['message']}" if a["message"] else "")
        table.add_row(
            format_time(a["start"]), escape(a["variant"]), f"{a['from_count']} → {a['to_count']}",
            f"[{colour}]{a['status']}[/]", escape(cause),
        )  # fmt: skip
    return table
