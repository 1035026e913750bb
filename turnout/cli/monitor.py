"""`turnout monitor ...`: drift monitoring (ADR 0041, docs/drift.md). A baseline from a
training CSV; the drift reports the server computes every --monitor-period; the baseline
exported as Model Monitor's statistics.json / constraints.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from turnout.cli.common import DEFAULT_URL, CredentialsFile, Json, Url, connect, console, fail
from turnout.cli.models import format_time

MAX_TRAINING_BYTES = 6 * 1024 * 1024  # what the server takes in one baseline request

app = typer.Typer(
    help="Drift monitoring: baselines from training data, drift reports of captured traffic.",
    no_args_is_help=True,
)


@app.command("baseline")
def baseline_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="Training CSV: a header row naming the features, in the order "
            "requests send them, then one row per example.",
        ),
    ],
    as_json: Json = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Compute the endpoint's baseline from training data (replaces any earlier one)."""
    try:
        body = data.expanduser().read_bytes()
    except OSError as exc:
        fail(f"cannot read --data {data}: {exc.strerror or exc}")
    if len(body) > MAX_TRAINING_BYTES:
        fail(
            f"--data {data} is {len(body) / 1e6:.1f} MB; the server takes up to "
            f"{MAX_TRAINING_BYTES / 1e6:.1f} MB: sample its rows first (keep the header)"
        )
    status = console.status(f"computing the baseline of {escape(endpoint)} ...")
    with connect(url, credentials) as client, status:
        found = client.put_drift_baseline(endpoint, body)
    if as_json:
        console.print_json(json.dumps(found))
        return
    console.print(statistics_table(endpoint, found["statistics"]))


@app.command("show")
def show_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    statistics: Annotated[
        Path | None, typer.Option(help="Write Model Monitor's statistics.json here.")
    ] = None,
    constraints: Annotated[
        Path | None, typer.Option(help="Write Model Monitor's constraints.json here.")
    ] = None,
    as_json: Json = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Show the endpoint's baseline; export it as statistics.json / constraints.json."""
    with connect(url, credentials) as client:
        found = client.drift_baseline(endpoint)
    for path, key in ((statistics, "statistics"), (constraints, "constraints")):
        if path is not None:
            try:
                path.expanduser().write_text(json.dumps(found[key], indent=2) + "\n")
            except OSError as exc:
                fail(f"cannot write {path}: {exc.strerror or exc}")
            console.print(f"wrote {key} to {escape(str(path))}")
    if as_json:
        console.print_json(json.dumps(found))
    elif statistics is None and constraints is None:
        console.print(statistics_table(endpoint, found["statistics"]))


@app.command("reports")
def reports_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    limit: Annotated[int, typer.Option(help="How many reports, newest first.", min=1)] = 1,
    as_json: Json = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Show the endpoint's newest drift reports: per feature, drift and violations."""
    if limit > 500:
        fail("--limit is at most 500")
    with connect(url, credentials) as client:
        reports = client.drift_reports(endpoint, limit=limit)
    if as_json:
        console.print_json(json.dumps(reports))
        return
    if not reports:
        console.print(
            f"no drift report for {escape(endpoint)} yet: it needs a baseline (turnout monitor "
            "baseline), data capture, traffic, and one --monitor-period"
        )
    for r in reports:
        console.print(report_table(endpoint, r))


def statistics_table(endpoint: str, statistics: dict[str, Any]) -> Table:
    table = Table(
        title=f"baseline of {escape(endpoint)}: {statistics['dataset']['item_count']} rows",
        title_justify="left",
    )
    for column in ("feature", "type", "missing", "mean", "std", "min", "max", "categories"):
        table.add_column(column)
    for f in statistics["features"]:
        if "numerical_statistics" in f:
            n = f["numerical_statistics"]
            table.add_row(
                escape(f["name"]), f["inferred_type"], str(n["common"]["num_missing"]),
                f"{n['mean']:.4g}", f"{n['std_dev']:.4g}", f"{n['min']:.4g}",
                f"{n['max']:.4g}", "",
            )  # fmt: skip
        else:
            s = f["string_statistics"]
            table.add_row(
                escape(f["name"]), f["inferred_type"], str(s["common"]["num_missing"]),
                "", "", "", "", str(s["distinct_count"]),
            )  # fmt: skip
    return table


def report_table(endpoint: str, report: dict[str, Any]) -> Table:
    table = Table(
        title=f"{escape(endpoint)} / {escape(report['variant'])} at "
        f"{format_time(report['computed_at'])}: {report['rows']} rows",
        title_justify="left",
    )
    for column in ("feature", "drift", "p-value", "PSI", "missing", "violations"):
        table.add_column(column)
    for f in report["features"]:
        colour = "red" if f["violations"] else "green"
        table.add_row(
            escape(f["name"]), f"[{colour}]{f['distance']:.3f}[/]", f"{f['p_value']:.2g}",
            "" if f["psi"] is None else f"{f['psi']:.3f}", str(f["missing"]),
            ", ".join(f["violations"]) or "none",
        )  # fmt: skip
    mix = ", ".join(f"{k}: {v:.0%}" for k, v in report["predictions"].items())
    table.caption = f"predictions: {escape(mix) or 'none captured'}"
    return table
