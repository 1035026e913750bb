"""`turnout top`: the dashboard's overview, live in the terminal (Rich), readable at 80 columns.

Per endpoint: a heading (status, config → the config being deployed, the deployment's
progress, every alarm's state, the endpoint's totals), then a row per variant of each fleet
(serving; blue and green during a deployment; retired) with that fleet's own weights and
share. Figures use compact units ("1.2k", "512M") so that none is ever clipped: only
the name column may fold onto a second line.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from turnout.cli.common import DEFAULT_URL, CredentialsFile, Url, connect, console
from turnout.cli.compact import compact, megabytes, percent, share


def top_command(
    interval: Annotated[
        float, typer.Option(help="Seconds between refreshes.", min=0.5, max=60)
    ] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one view and exit.")] = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Live view of every endpoint: deployment progress, alarms, and per variant of each
    fleet its weights, traffic share, instances, requests, errors, latency, CPU and memory.
    Ctrl-C to quit."""
    with connect(url, credentials) as client:
        if once:
            console.print(overview_view(client.overview()))
            return
        try:
            with Live(overview_view(client.overview()), console=console, screen=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(overview_view(client.overview()))
        except KeyboardInterrupt:
            return


COLUMNS = ("variant", "fleet", "wt", "share", "ready", "req5m", "req/s", "err",
           "p50ms", "p99ms", "cpu%", "mem")  # fmt: skip


def overview_view(overview: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [Text(f"turnout · {time.strftime('%H:%M:%S')}", style="bold")]
    if not overview["endpoints"]:
        parts.append(Text("no endpoints yet: `turnout endpoint create --help`"))
    for item in overview["endpoints"]:
        parts.append(Text())
        parts.extend(endpoint_heading(item))
        parts.append(fleet_table(item))
    return Group(*parts)


def endpoint_heading(item: dict[str, Any]) -> list[Text]:
    endpoint, totals = item["endpoint"], item["totals"]
    config = endpoint["config"]
    if endpoint.get("pending_config"):
        config += f" → {endpoint['pending_config']}"
    head = Text.assemble(
        (endpoint["name"], "bold"), "  ", _status(endpoint["status"]), "  ", config
    )
    lines = [head]
    retired = sorted({f["config"] for f in item["fleets"] if f["role"] == "retired"})
    if retired:
        lines.append(Text(f"  retired (served lately): {', '.join(retired)}", style="dim"))
    if item.get("deployment"):
        lines.append(Text("  " + progress_words(item["deployment"]), style="yellow"))
    if item.get("alarms"):
        line = Text("  alarms: ")
        for i, alarm in enumerate(item["alarms"]):
            style = {"ALARM": "bold red", "OK": "green"}.get(alarm["state"], "yellow")
            line.append(("; " if i else "") + f"{alarm['name']} ")
            line.append(alarm["state"], style=style)
        lines.append(line)
    lines.append(
        Text(
            f"  {compact(totals['invocations'])} req in 5 min · {compact(totals['rps'])} req/s"
            f" · errors {percent(totals['error_rate'])} · p99 {compact(totals['p99_ms'])} ms"
        )
    )
    return lines


def progress_words(p: dict[str, Any]) -> str:
    """As the dashboard says it: "→ v2 · step 1 of 2 · green 10% · Baking · 42 s left"."""
    text = f"→ {p['target']} · step {p['step']} of {p['steps']} · green {share(p['green_share'])}"
    text += f" · {p['phase']}{' (paused)' if p['paused'] else ''}"
    if p.get("bake_left_s") is not None:
        text += f" · {p['bake_left_s']:.0f}s left"
    return text


def fleet_table(item: dict[str, Any]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
        collapse_padding=True,
    )  # fmt: skip
    # The name folds if it must; figures never shrink (no_wrap), so they are never clipped.
    table.add_column(COLUMNS[0], overflow="fold", ratio=1)
    table.add_column(COLUMNS[1], no_wrap=True)
    for column in COLUMNS[2:]:
        table.add_column(column, justify="right", no_wrap=True)
    numbers = {(r["config"], r["variant"]): r for r in item["summary"]}
    for fleet in item["fleets"]:
        for v in fleet["variants"]:
            table.add_row(*fleet_cells(fleet, v, numbers.get((v["config"], v["variant"]), {})))
    return table


def fleet_cells(fleet: dict[str, Any], v: dict[str, Any], row: dict[str, Any]) -> list[str]:
    """One variant of one fleet: its own weights and share, its own numbers."""
    instances = v["instances"]
    ready = sum(1 for i in instances if i["ready"])
    return [
        v["variant"],
        "shadow" if v["shadow"] else fleet["role"],
        weights(v),
        "copy" if v["shadow"] else share(v["share"]),
        _count(v, ready),
        compact(row.get("invocations", 0)),
        compact(row.get("rps", 0.0)),
        percent(row.get("error_rate")),
        compact(row.get("p50_ms")),
        compact(row.get("p99_ms")),
        compact(_sum(instances, "cpu_percent")),
        megabytes(_sum(instances, "memory_mb")),
    ]


def _count(v: dict[str, Any], ready: int) -> str:
    """Ready of running; a serverless variant with none is idle (ADR 0038), not broken."""
    if v.get("serverless") and not v["instances"]:
        return "0 idle"
    return f"{ready}/{len(v['instances'])}"


def weights(v: dict[str, Any]) -> str:
    """Current weight, and "→ desired" while they differ; "-" for a retired fleet."""
    current, desired = v["current_weight"], v["desired_weight"]
    if current is None and desired is None:
        return "-"
    if desired is None or current == desired:
        return compact(current)
    return f"{compact(current)}→{compact(desired)}"


def _sum(instances: list[Any], field: str) -> float | None:
    values = [i[field] for i in instances if i.get(field) is not None]
    return sum(values) if values else None


def _status(status: str) -> Text:
    colour = {"InService": "green", "Failed": "red", "UpdateRollbackFailed": "red"}.get(
        status, "yellow"
    )
    return Text(status, style=colour)
