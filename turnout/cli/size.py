"""`turnout size`: the smallest setting (instances, batching) that holds a latency target."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from turnout.cli.common import (
    DEFAULT_URL,
    CredentialsFile,
    Json,
    Url,
    connect,
    console,
    err_console,
    fail,
    print_error,
    print_json,
)
from turnout.cli.loadtest import ContentType, DataFile, read_data, seconds_of
from turnout.loadtest.generator import Progress as LoadProgress
from turnout.loadtest.run import LoadTestError
from turnout.loadtest.sizer import Events, SizingSpec, size_endpoint, sized_variant
from turnout.loadtest.sizing import SizingError, Trial, parse_batchings


def size_command(
    endpoint: Annotated[
        str, typer.Argument(help="Endpoint whose model to size.", show_default=False)
    ],
    data: DataFile,
    p99_ms: Annotated[
        float,
        typer.Option(
            "--p99-ms", help="The latency target: p99 in milliseconds.", min=0.1, show_default=False
        ),
    ],
    target_rps: Annotated[
        float | None,
        typer.Option(
            "--target-rps",
            help="The rate to hold, requests per second. Without it, each setting's highest "
            "rate within the latency target is measured and the most per instance wins.",
            min=0.1,
            max=100_000,
            show_default=False,
        ),
    ] = None,
    max_instances: Annotated[
        int,
        typer.Option("--max-instances", help="Try 1 up to this many instances.", min=1, max=16),
    ] = 4,
    batching: Annotated[
        str | None,
        typer.Option(
            "--batching",
            help="Batching settings to try, simplest first: off, 32 (at most 32 per predict "
            "call), 32:2 (waiting up to 2 ms for company), as-is (the model's own). Default: "
            "off,32,32:2 when the model's flavor batches, else as-is.",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        str,
        typer.Option(
            "--duration",
            help="Load per trial (per concurrency step without "
            "--target-rps), after 1 s of warm-up.",
        ),
    ] = "5s",
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help="The production variant whose model to size. Default: the only one, else "
            "the one with the most weight.",
            show_default=False,
        ),
    ] = None,
    content_type: ContentType = None,
    json: Json = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Recommend the fewest instances (then the simplest batching) that hold p99 ≤
    --p99-ms at --target-rps, from load tests of the endpoint's model on a scratch endpoint
    (size-ENDPOINT-N, deleted at the end); prints the measurements behind it.

    Example: `turnout size digits -d rows.jsonl --p99-ms 50 --target-rps 200`."""
    request_data = read_data(data, content_type)
    seconds = seconds_of(duration, "--duration")
    with connect(url, credentials) as client:
        try:
            name, model = sized_variant(client, endpoint, variant)
        except LoadTestError as exc:
            fail(str(exc))
        try:
            batchings = parse_batchings(batching or _default_batching(model))
        except SizingError as exc:
            fail(f"--batching: {exc}")
        spec = SizingSpec(
            endpoint,
            request_data,
            p99_ms,
            target_rps,
            tuple(batchings),
            max_instances,
            seconds,
            name,
        )
        with _Display() as display:
            try:
                result = size_endpoint(client, spec, display)
            except LoadTestError as exc:
                fail(str(exc))
            except KeyboardInterrupt:
                display.stop()
                print_error("interrupted: the scratch endpoint was deleted")
                raise typer.Exit(130) from None
    if json:
        print_json(result)
    else:
        console.print(trials_table(result))
    best = result["recommendation"]
    if best is None:
        fail(
            f"no setting up to {max_instances} instances holds p99 ≤ {p99_ms:g} ms"
            + (f" at {target_rps:g} req/s" if target_rps else "")
            + ": try more --max-instances, a looser --p99-ms or a lower --target-rps"
        )
    if not json:
        env = " ".join(f"-e {k}={v}" for k, v in best["environment"].items())
        console.print(
            f"[bold green]recommended:[/] {best['instances']} instance(s), batching "
            f"{best['batching']} — {best['reason']}"
            + (f"\n  model environment: {env}" if env else "")
        )


def _default_batching(model: Any) -> str:
    return "off,32,32:2" if model["batching"]["applies"] == "yes" else "as-is"


def trials_table(result: dict[str, Any]) -> Table:
    target = result["target"]
    rate = f" at {target['rps']:g} req/s" if target["rps"] else ""
    table = Table(
        title=f"sizing · {result['endpoint']} ({result['model']}) · p99 ≤ {target['p99_ms']:g} ms"
        f"{rate}",
        title_justify="left",
    )
    table.add_column("instances", justify="right")
    table.add_column("batching")
    sweep = target["rps"] is None
    columns = ("capacity req/s", "p99 ms") if sweep else ("req/s", "p50 ms", "p99 ms", "error %")
    for column in (*columns, "peak RSS MB", "CPU %"):
        table.add_column(column, justify="right")
    table.add_column("holds")
    for row in result["trials"]:
        numbers = (
            (_n(row["capacity_rps"]), _n(row["p99_ms"], 2))
            if sweep
            else (
                _n(row["throughput_rps"]),
                _n(row["p50_ms"], 2),
                _n(row["p99_ms"], 2),
                _n(100 * row["error_rate"], 2),
            )
        )
        table.add_row(
            str(row["instances"]),
            row["batching"],
            *numbers,
            _n(row["peak_rss_mb_per_instance"], 0),
            _n(row["mean_cpu_percent_per_instance"], 0),
            ("[green]yes[/] " if row["holds"] else "[red]no[/] ") + row["reason"],
        )
    return table


def _n(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


class _Display(Events):
    """Rich progress on stderr: trials done (of at most N), what runs now, the live load."""

    def __init__(self) -> None:
        self.bar = Progress(
            TextColumn("[bold]sizing[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=err_console,
            auto_refresh=False,
        )
        self.task = self.bar.add_task("size", total=None, status="starting")
        self.live = Live(self.bar, console=err_console, auto_refresh=False, transient=True)
        self.current = ""

    def __enter__(self) -> _Display:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.live.stop()

    def step(self, text: str) -> None:
        self.current = text
        self.bar.update(self.task, status=text)
        self.live.refresh()

    def trial(self, trial: Trial, total: int) -> None:
        self.bar.update(self.task, total=total, advance=1)
        err_console.print(
            f"{self.current}: {'holds' if trial.holds else 'does not hold'} ({trial.reason})"
        )
        self.live.refresh()

    def load(self, progress: LoadProgress) -> None:
        p99 = "-" if progress.last_p99_ms is None else f"{progress.last_p99_ms:.1f} ms"
        self.bar.update(
            self.task,
            status=f"{self.current} · {progress.elapsed:.0f}/{progress.seconds:.0f} s · "
            f"{progress.answered:,} ok · {progress.failed:,} failed · p99 {p99}",
        )
        self.live.refresh()
