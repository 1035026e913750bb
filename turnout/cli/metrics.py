"""`turnout metrics ENDPOINT`: each variant's invocations, errors and latencies, recently."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table

from turnout.cli.common import DEFAULT_URL, CredentialsFile, Json, Url, connect, console, print_json
from turnout.client import MetricsSummaryInfo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SINCE = 7 * 86400


def parse_duration(text: str) -> float:
    """`90`, `90s`, `5m`, `2h`, `1d` → seconds; BadParameter otherwise."""
    match = _DURATION.match(text.lower())
    seconds = float(match[1]) * _UNIT[match[2]] if match else 0.0
    if not 0 < seconds <= MAX_SINCE:
        raise typer.BadParameter(
            f"{text!r} is not a duration from 1s to 7d, like 90s, 5m, 2h", param_hint="--since"
        )
    return seconds


def metrics_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    since: Annotated[str, typer.Option(help="How far back: 90s, 5m, 2h, 1d (at most 7d).")] = "5m",
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Each variant's invocations, errors and model latency over the last --since."""
    seconds = parse_duration(since)
    with connect(url, credentials) as client:
        summary = client.metrics_summary(endpoint, since=seconds)
    if as_json:
        print_json(summary)
        return
    console.print(metrics_table(summary))


def metrics_table(summary: MetricsSummaryInfo) -> Table:
    fleets = {v["config"] for v in summary["variants"]}
    table = Table(
        "variant", "invocations", "4xx", "5xx", "model errors", "p50 ms", "p99 ms",
        title=f"{summary['endpoint']}, last {summary['seconds']:g} s", box=None,
    )  # fmt: skip
    for v in summary["variants"]:
        metrics = v["metrics"]
        name = v["variant"] if len(fleets) < 2 else f"{v['variant']} ({v['config']})"
        latency = metrics.get("ModelLatency", {})
        table.add_row(
            name,
            _count(metrics, "Invocations"),
            _count(metrics, "Invocation4XXErrors"),
            _count(metrics, "Invocation5XXErrors"),
            _count(metrics, "InvocationModelErrors"),
            _millis(latency.get("p50")),
            _millis(latency.get("p99")),
        )
    if not summary["variants"]:
        table.caption = "no invocations in that time"
    return table


def _count(metrics: dict[str, dict[str, float]], name: str) -> str:
    return f"{int(metrics.get(name, {}).get('Sum', 0))}"


def _millis(micros: float | None) -> str:
    return "-" if micros is None else f"{micros / 1000:.2f}"
