"""`turnout loadtest`: drive an endpoint at a concurrency or a rate, live, and report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from turnout.cli.common import (
    DEFAULT_URL,
    CredentialsFile,
    Json,
    Url,
    connect,
    console,
    err_console,
    fail,
    print_json,
)
from turnout.loadtest.data import DataError, RequestData, load_request_data
from turnout.loadtest.generator import Progress as LoadProgress
from turnout.loadtest.html import render_html
from turnout.loadtest.report import instances_table, summary_table, write_json
from turnout.loadtest.run import LoadTestError, Options, run_load_test
from turnout.loadtest.shape import Mode, Shape, ShapeError, build_shape, parse_seconds

DataFile = Annotated[
    Path,
    typer.Option(
        "--data",
        "-d",
        help="Request bodies: a .csv file (one text/csv row per request; a header line is "
        "skipped) or a .jsonl file (one JSON value per request), cycled.",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]
ContentType = Annotated[
    str | None,
    typer.Option(
        "--content-type",
        help="Send the rows as this type (text/csv or application/json). Default: by the "
        "file's suffix.",
    ),
]
TargetVariant = Annotated[
    str | None,
    typer.Option("--target-variant", help="Send every request to this production variant."),
]


def loadtest_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.", show_default=False)],
    data: DataFile,
    concurrency: Annotated[
        str | None,
        typer.Option(
            "--concurrency",
            "-c",
            help="Requests in flight (closed loop): 8, steps 2,4,8, or a ramp 1..16. "
            "Default: 4, unless --rate is given.",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            "-r",
            help="Requests per second sent on schedule (open loop; latency counts from each "
            "request's intended send time): 100, steps 50,100,200, or a ramp 10..300.",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        str,
        typer.Option("--duration", help="How long each step or ramp lasts: 30, 30s, 2m or 500ms."),
    ] = "10s",
    requests: Annotated[
        int | None,
        typer.Option("--requests", "-n", help="Stop after sending this many.", min=1),
    ] = None,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Give up on a request after this long.")
    ] = "30s",
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            help="Connections open at most (so requests in flight).",
            min=1,
            max=4096,
        ),
    ] = 256,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write report.json and report.html into this directory. Default: "
            "loadtest-ENDPOINT-YYYYMMDD-HHMMSS in the current directory.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    content_type: ContentType = None,
    target_variant: TargetVariant = None,
    json: Json = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Load-test an endpoint: throughput, latency percentiles, errors, and each instance's
    CPU and memory over time (a steadily growing RSS is flagged as a leak). Writes a JSON
    report and an HTML page with plots; Ctrl-C stops early and still writes them.

    Examples: `turnout loadtest digits -d rows.jsonl -c 8 --duration 30s`;
    `turnout loadtest digits -d rows.csv --rate 50,100,200 --duration 20s`."""
    shape = shape_of(concurrency, rate, duration)
    request_data = read_data(data, content_type)
    options = Options(
        timeout=seconds_of(timeout, "--timeout"),
        max_requests=requests,
        max_connections=max_connections,
        target_variant=target_variant,
    )
    folder = out or Path(f"loadtest-{endpoint}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {folder}: {exc.strerror}")
    with connect(url, credentials) as client, LiveLoad(shape, f"load test · {endpoint}") as live:
        try:
            report = run_load_test(client, endpoint, request_data, shape, options, live.update)
        except LoadTestError as exc:
            fail(str(exc))
    write_json(report, folder / "report.json")
    (folder / "report.html").write_text(render_html(report))
    if json:
        print_json(report)
        return
    console.print(summary_table(report))
    console.print(instances_table(report))
    if report["error_samples"]:
        console.print(f"[red]first failures:[/] {report['error_samples'][0]}")
    if report["stopped_early"]:
        console.print(f"[yellow]stopped early:[/] {report['stopped_early']}")
    console.print(f"report: {folder / 'report.json'} · {folder / 'report.html'}")


def shape_of(concurrency: str | None, rate: str | None, duration: str) -> Shape:
    if concurrency is not None and rate is not None:
        fail("give --concurrency or --rate, not both")
    mode, levels = (Mode.rate, rate) if rate is not None else (Mode.concurrency, concurrency)
    try:
        return build_shape(mode, levels or "4", parse_seconds(duration))
    except ShapeError as exc:
        fail(f"--{mode.value} / --duration: {exc}")


def seconds_of(text: str, option: str) -> float:
    try:
        return parse_seconds(text)
    except ShapeError as exc:
        fail(f"{option}: {exc}")


def read_data(path: Path, content_type: str | None) -> RequestData:
    try:
        return load_request_data(path, content_type)
    except DataError as exc:
        fail(f"--data: {exc}")


class LiveLoad:
    """The live progress display on stderr: a bar over the shape's time and the counts."""

    def __init__(self, shape: Shape, title: str) -> None:
        self.shape = shape
        self.bar = Progress(
            TextColumn(f"[bold]{title}[/]"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=err_console,
            auto_refresh=False,
        )
        self.task = self.bar.add_task("load", total=shape.seconds, status="starting")
        self.live = Live(Group(self.bar), console=err_console, auto_refresh=False, transient=True)

    def __enter__(self) -> LiveLoad:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def update(self, progress: LoadProgress) -> None:
        unit = "req/s" if self.shape.mode is Mode.rate else "in flight"
        p99 = "-" if progress.last_p99_ms is None else f"{progress.last_p99_ms:.1f} ms"
        status = (
            f"{progress.level:.0f} {unit} · {progress.sent:,} sent · {progress.answered:,} ok "
            f"· {progress.failed:,} failed · p99 {p99}"
        )
        self.bar.update(
            self.task, completed=min(progress.elapsed, self.shape.seconds), status=status
        )
        self.live.refresh()
