"""The report of a load test: one JSON document, from which the terminal table and the
HTML page (html.py) are drawn. Its fields are described in docs/load-tests.md."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.table import Table

from turnout.loadtest.data import RequestData
from turnout.loadtest.generator import Outcome
from turnout.loadtest.leaks import detect_leak
from turnout.loadtest.sampler import InstanceSample
from turnout.loadtest.series import second_row, summarize
from turnout.loadtest.shape import Mode, Shape

KIND = "turnout-loadtest"
VERSION = 1


def build_report(
    *,
    endpoint: str,
    url: str,
    shape: Shape,
    data: RequestData,
    outcome: Outcome,
    samples: list[InstanceSample],
    settings: dict[str, Any],
) -> dict[str, Any]:
    seconds = outcome.series.seconds
    totals = summarize(seconds, max(outcome.seconds, 1e-9)).to_json()
    segments = []
    begin = 0.0
    for index, segment in enumerate(shape.segments):
        end = begin + segment.seconds
        last = index == len(shape.segments) - 1
        inside = [s for i, s in enumerate(seconds) if begin <= i < end or (last and i >= end)]
        # The last segment lasts until the last answer: answers drained after the shape
        # ended count in it, and so does the time they took.
        length = max(segment.seconds, outcome.seconds - begin) if last else segment.seconds
        summary = summarize(inside, length).to_json()
        segments.append(
            {"index": index, "start_level": segment.start, "end_level": segment.end, **summary}
        )
        begin = end
    return {
        "kind": KIND,
        "version": VERSION,
        "endpoint": endpoint,
        "url": url,
        "started_at": outcome.started_at,
        "data": {
            "source": data.source,
            "rows": len(data.bodies),
            "content_type": data.content_type,
        },
        "shape": {
            "mode": shape.mode.value,
            "seconds": shape.seconds,
            "segments": [
                {"start": s.start, "end": s.end, "seconds": s.seconds} for s in shape.segments
            ],
        },
        "settings": settings,
        "stopped_early": outcome.stopped_early,
        "totals": totals,
        "segments": segments,
        "series": [second_row(i, s) for i, s in enumerate(seconds)],
        "instances": instances_report(samples, outcome.seconds),
        "variants": dict(outcome.variants),
        "error_types": dict(outcome.error_types),
        "error_samples": list(outcome.samples),
        "generator": {
            "max_send_lag_ms": outcome.max_send_lag_ms,
            "peak_in_flight": outcome.peak_in_flight,
        },
    }


def instances_report(samples: list[InstanceSample], run_seconds: float) -> list[dict[str, Any]]:
    """Per instance: peak and start/end RSS, CPU, the leak verdict, and the samples."""
    by_instance: dict[str, list[InstanceSample]] = defaultdict(list)
    for sample in samples:
        by_instance[sample.instance].append(sample)
    found = []
    for instance, series in sorted(by_instance.items()):
        rss = [(s.t, s.rss_mb) for s in series if s.rss_mb is not None]
        cpu = [s.cpu_percent for s in series if s.cpu_percent is not None]
        verdict = detect_leak([t for t, _ in rss], [m for _, m in rss], run_seconds)
        found.append(
            {
                "id": instance,
                "variant": series[0].variant,
                "source": series[-1].source,
                "states": sorted({s.state for s in series}),
                "peak_rss_mb": max((m for _, m in rss), default=None),
                "start_rss_mb": rss[0][1] if rss else None,
                "end_rss_mb": rss[-1][1] if rss else None,
                "mean_cpu_percent": round(sum(cpu) / len(cpu), 1) if cpu else None,
                "peak_cpu_percent": max(cpu, default=None),
                "leak": {
                    "suspected": verdict.leaking,
                    "slope_mb_per_min": verdict.slope_mb_per_min,
                    "growth_mb": verdict.growth_mb,
                    "reason": verdict.reason,
                },
                "samples": [[s.t, s.cpu_percent, s.rss_mb] for s in series],
            }
        )
    return found


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1) + "\n")


def _num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def level_text(mode: str, start: float, end: float) -> str:
    unit = "req/s" if mode == Mode.rate.value else "in flight"
    level = f"{start:g}" if start == end else f"{start:g}→{end:g}"
    return f"{level} {unit}"


SEGMENT_COLUMNS = (
    "sent",
    "answered",
    "failed",
    "req/s",
    "error %",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
)


def segment_rows(report: dict[str, Any], total_label: str) -> list[tuple[str, list[str]]]:
    """(label, cells under SEGMENT_COLUMNS) per segment, then the totals when there are
    several segments (one segment: its row is the totals, answers drained included)."""
    mode = report["shape"]["mode"]
    rows = [(level_text(mode, s["start_level"], s["end_level"]), s) for s in report["segments"]]
    if len(rows) > 1:
        rows.append((total_label, report["totals"]))
    else:
        rows = [(rows[0][0], report["totals"])]
    return [
        (
            label,
            [
                f"{s['sent']:,}",
                f"{s['answered']:,}",
                f"{s['failed']:,}",
                _num(s["throughput_rps"]),
                _num(100 * s["error_rate"], 2),
                _num(s["p50"], 2),
                _num(s["p90"], 2),
                _num(s["p99"], 2),
                _num(s["max_ms"], 2),
            ],
        )
        for label, s in rows
    ]


def summary_table(report: dict[str, Any]) -> Table:
    """Per segment and in all: sent, answered, failed, throughput, latency percentiles."""
    table = Table(title=f"load test · {report['endpoint']}", title_justify="left")
    table.add_column("segment")
    for column in SEGMENT_COLUMNS:
        table.add_column(column, justify="right")
    for label, cells in segment_rows(report, "[bold]all[/]"):
        table.add_row(label, *cells)
    return table


def instances_table(report: dict[str, Any]) -> Table:
    table = Table(title="instances", title_justify="left")
    for column in ("instance", "variant"):
        table.add_column(column)
    for column in ("mean CPU %", "peak CPU %", "start MB", "end MB", "peak RSS MB", "MB/min"):
        table.add_column(column, justify="right")
    table.add_column("memory")
    for item in report["instances"]:
        leak = item["leak"]
        table.add_row(
            item["id"],
            item["variant"],
            _num(item["mean_cpu_percent"]),
            _num(item["peak_cpu_percent"]),
            _num(item["start_rss_mb"]),
            _num(item["end_rss_mb"]),
            _num(item["peak_rss_mb"]),
            _num(leak["slope_mb_per_min"], 2),
            f"[bold red]leak? {leak['reason']}[/]" if leak["suspected"] else "[green]ok[/]",
        )
    if not report["instances"]:
        table.caption = "no instance samples (the endpoint could not be described)"
    return table
