"""`turnout top`: the dashboard's per-variant numbers, live in the terminal (Rich)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from turnout.cli.common import DEFAULT_URL, CredentialsFile, Url, connect, console


def top_command(
    interval: Annotated[
        float, typer.Option(help="Seconds between refreshes.", min=0.5, max=60)
    ] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one table and exit.")] = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Live per-variant view of every endpoint: weights, instances, req/s, errors, latency,
    CPU and memory. Ctrl-C to quit."""
    with connect(url, credentials) as client:
        if once:
            console.print(overview_table(client.overview()))
            return
        try:
            with Live(overview_table(client.overview()), console=console, screen=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(overview_table(client.overview()))
        except KeyboardInterrupt:
            return


def overview_table(overview: dict[str, Any]) -> Table:
    table = Table(title=f"turnout · {time.strftime('%H:%M:%S')}", title_justify="left")
    for column in ("endpoint", "status", "config", "variant"):
        table.add_column(column)
    for column in ("weight", "ready", "req (5m)", "req/s", "errors", "p50 ms", "p99 ms",
                   "CPU %", "mem MB"):  # fmt: skip
        table.add_column(column, justify="right")
    if not overview["endpoints"]:
        table.caption = "no endpoints yet: `turnout endpoint create --help`"
    for item in overview["endpoints"]:
        endpoint = item["endpoint"]
        rows = {(r["config"], r["variant"]): r for r in item["summary"]}
        first = True
        for config, variant, weight, instances in _variants(endpoint):
            row = rows.get((config, variant), {})
            ready = sum(i["ready"] for i in instances)
            table.add_row(
                endpoint["name"] if first else "",
                _status(endpoint["status"]) if first else "",
                config,
                variant,
                _num(weight, 3),
                f"{ready}/{len(instances)}",
                _num(row.get("invocations", 0), 0),
                _num(row.get("rps", 0.0), 1),
                _percent(row.get("error_rate")),
                _num(row.get("p50_ms"), 2),
                _num(row.get("p99_ms"), 2),
                _num(_sum(instances, "cpu_percent"), 1),
                _num(_sum(instances, "memory_mb"), 0),
            )
            first = False
    return table


def _variants(endpoint: dict[str, Any]) -> list[tuple[str, str, float | None, list[Any]]]:
    """(config, variant, weight, instances) for every fleet serving the endpoint."""
    found = []
    for variant in endpoint["variants"]:
        by_fleet: dict[str, list[Any]] = {}
        for instance in variant["instances"]:
            by_fleet.setdefault(instance["id"].split("/")[1], []).append(instance)
        for config in sorted(by_fleet) or [endpoint["config"]]:
            found.append(
                (config, variant["name"], variant["current_weight"], by_fleet.get(config, []))
            )
    return found


def _sum(instances: list[Any], field: str) -> float | None:
    values = [i[field] for i in instances if i.get(field) is not None]
    return sum(values) if values else None


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _status(status: str) -> str:
    colour = {"InService": "green", "Failed": "red", "UpdateRollbackFailed": "red"}.get(
        status, "yellow"
    )
    return f"[{colour}]{status}[/]"
