"""The load test report as one self-contained HTML page: tables and inline SVG plots.

Drawn here, server-side, as plain SVG paths: no script, no stylesheet or font to fetch, so
the page opens anywhere (a CI artifact, a machine without network) and prints as it shows.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from turnout.loadtest.report import SEGMENT_COLUMNS, level_text, segment_rows

Point = tuple[float, float | None]
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 32
COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.leak { color: #b00; font-weight: bold; } .ok { color: #080; }
.chart { margin: 8px 0 20px; } .chart text { font-size: 11px; fill: #444; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 3px; vertical-align: middle;
  margin-right: 4px; }
.muted { color: #777; }
"""


def render_html(report: dict[str, Any]) -> str:
    series = report["series"]
    # Rates per second: the seconds of the shape only, not the drain's last partial one.
    whole = [r for r in series if r["t"] < report["shape"]["seconds"]] or series
    totals = report["totals"]
    started = datetime.datetime.fromtimestamp(report["started_at"]).strftime("%Y-%m-%d %H:%M:%S")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>load test · {escape(report['endpoint'])}</title><style>{STYLE}</style>",
        "</head><body>",
        f"<h1>Load test of endpoint <code>{escape(report['endpoint'])}</code></h1>",
        f"<p class='muted'>{escape(report['url'])} · started {started} · "
        f"{escape(report['shape']['mode'])} "
        f"{escape(_shape_text(report))} · data {escape(report['data']['source'])} "
        f"({report['data']['rows']} rows)</p>",
        f"<p data-testid='totals'>{totals['sent']:,} sent · {totals['answered']:,} answered · "
        f"{totals['failed']:,} failed · {totals['throughput_rps']:,.1f} req/s · "
        f"p50 {_ms(totals['p50'])} · p99 {_ms(totals['p99'])}</p>",
    ]
    if report["stopped_early"]:
        parts.append(f"<p>Stopped early: {escape(report['stopped_early'])}</p>")
    parts.append(_segments_table(report))
    parts.append("<h2>Throughput</h2>")
    parts.append(
        line_chart(
            "throughput",
            [
                ("answered/s", [(r["t"], r["answered"]) for r in whole]),
                ("failed/s", [(r["t"], r["failed"]) for r in whole]),
            ],
            "requests per second",
        )
    )
    parts.append("<h2>Latency percentiles</h2>")
    parts.append(
        line_chart(
            "latency",
            [(name, [(r["t"], r[f"{name}_ms"]) for r in series]) for name in ("p50", "p90", "p99")],
            "ms (from the intended send time)",
        )
    )
    parts.append("<h2>Error rate</h2>")
    parts.append(
        line_chart(
            "errors",
            [("error %", [(r["t"], _error_rate(r)) for r in series])],
            "% of the second's requests",
        )
    )
    instances = report["instances"]
    parts.append("<h2>CPU per instance</h2>")
    parts.append(
        line_chart(
            "cpu",
            [(i["id"], [(t, cpu) for t, cpu, _ in i["samples"]]) for i in instances],
            "% (100 per busy core)",
        )
    )
    parts.append("<h2>Memory (RSS) per instance</h2>")
    parts.append(
        line_chart(
            "rss",
            [(i["id"], [(t, rss) for t, _, rss in i["samples"]]) for i in instances],
            "MB",
        )
    )
    parts.append(_instances_table(instances))
    if report["error_samples"]:
        items = "".join(f"<li><code>{escape(s)}</code></li>" for s in report["error_samples"])
        parts.append(f"<h2>First failures</h2><ul>{items}</ul>")
    generator = report["generator"]
    parts.append(
        f"<p class='muted'>Generator: peak {generator['peak_in_flight']} in flight, sent at "
        f"most {generator['max_send_lag_ms']:.1f} ms after a request was due.</p>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _shape_text(report: dict[str, Any]) -> str:
    shape = report["shape"]
    return ", ".join(
        f"{level_text(shape['mode'], s['start'], s['end'])} for {s['seconds']:g} s"
        for s in shape["segments"]
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f} ms"


def _error_rate(row: dict[str, Any]) -> float | None:
    done = row["answered"] + row["failed"]
    return 100.0 * row["failed"] / done if done else None


def _cell(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _segments_table(report: dict[str, Any]) -> str:
    body = "".join(
        f"<tr><td>{escape(label)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        for label, cells in segment_rows(report, "all")
    )
    header = "".join(f"<th>{h}</th>" for h in ("segment", *SEGMENT_COLUMNS))
    return f"<table data-testid='segments'><tr>{header}</tr>{body}</table>"


def _instances_table(instances: list[dict[str, Any]]) -> str:
    if not instances:
        return "<p class='muted'>No instance samples.</p>"
    head = (
        "instance",
        "variant",
        "mean CPU %",
        "peak CPU %",
        "start MB",
        "end MB",
        "peak RSS MB",
        "MB/min",
        "memory",
    )
    rows = []
    for item in instances:
        leak = item["leak"]
        verdict = (
            f"<span class='leak'>leak suspected: {escape(leak['reason'])}</span>"
            if leak["suspected"]
            else f"<span class='ok'>ok</span> <span class='muted'>{escape(leak['reason'])}</span>"
        )
        rows.append(
            f"<tr><td>{escape(item['id'])}</td><td>{escape(item['variant'])}</td>"
            f"<td>{_cell(item['mean_cpu_percent'])}</td><td>{_cell(item['peak_cpu_percent'])}</td>"
            f"<td>{_cell(item['start_rss_mb'])}</td><td>{_cell(item['end_rss_mb'])}</td>"
            f"<td>{_cell(item['peak_rss_mb'])}</td>"
            f"<td>{_cell(leak['slope_mb_per_min'], 2)}</td><td>{verdict}</td></tr>"
        )
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<table data-testid='instances'><tr>{header}</tr>{''.join(rows)}</table>"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def line_chart(name: str, lines: Sequence[tuple[str, Sequence[Point]]], unit: str) -> str:
    """An SVG line chart, one path per line (a point where a line has a single value);
    `None` values break a line. Marked data-testid=chart-NAME for tests."""
    xs = [x for _, points in lines for x, y in points if y is not None]
    ys = [y for _, points in lines for _, y in points if y is not None]
    if not xs:
        return f"<p class='muted' data-testid='chart-{name}'>No data.</p>"
    x_low, x_high = min(xs), max(xs)
    if x_high == x_low:
        x_high = x_low + 1
    y_high = max(ys) * 1.08 if max(ys) > 0 else 1.0
    y_ticks = _ticks(0.0, y_high)
    y_high = max(y_high, y_ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / y_high * plot_h

    svg = [
        f"<svg class='chart' data-testid='chart-{name}' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' xmlns='http://www.w3.org/2000/svg' role='img'>",
        f"<rect x='{LEFT}' y='{TOP}' width='{plot_w}' height='{plot_h}' fill='#fafafa' "
        "stroke='#ccc'/>",
    ]
    for tick in y_ticks:
        y = py(tick)
        svg.append(
            f"<line x1='{LEFT}' x2='{LEFT + plot_w}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e4e4e4'/>"
        )
        svg.append(f"<text x='{LEFT - 6}' y='{y + 4:.1f}' text-anchor='end'>{tick:g}</text>")
    for tick in _ticks(x_low, x_high, 8):
        if x_low <= tick <= x_high:
            x = px(tick)
            svg.append(
                f"<text x='{x:.1f}' y='{HEIGHT - BOTTOM + 16}' "
                f"text-anchor='middle'>{tick:g}s</text>"
            )
    svg.append(f"<text x='{LEFT + 4}' y='{TOP + 12}'>{escape(unit)}</text>")
    legend = []
    for number, (label, points) in enumerate(lines):
        colour = COLOURS[number % len(COLOURS)]
        runs: list[list[tuple[float, float]]] = [[]]
        for at, value in points:
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((px(at), py(value)))
        for run in runs:
            if len(run) == 1:
                ((x, y),) = run
                svg.append(
                    f"<circle class='series' cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{colour}'/>"
                )
            elif run:
                d = "M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in run)
                svg.append(
                    f"<path class='series' data-series='{escape(label)}' d='{d}' "
                    f"fill='none' stroke='{colour}' stroke-width='1.6'/>"
                )
        legend.append(f"<span><i style='background:{colour}'></i>{escape(label)}</span>")
    svg.append("</svg>")
    return f"<div>{''.join(svg)}<div class='legend'>{''.join(legend)}</div></div>"
