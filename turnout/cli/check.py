"""`turnout check ENDPOINT --data FILE`: a prediction test, from the terminal or CI.

Exit status 0 when every threshold holds, 1 when one does not (or the test cannot run:
no such endpoint, turnout unreachable), 2 for bad arguments or a bad data file.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from turnout.checks import data, junit
from turnout.checks import metrics as m
from turnout.checks import thresholds as th
from turnout.checks.compare import ATOL, RTOL
from turnout.checks.report import Report, resolve_task
from turnout.checks.runner import CONCURRENCY, CheckAborted, Target, run_check
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
from turnout.client import Client
from turnout.domain.checks import DEFAULT_BATCH, MAX_BATCH, Bound, Row, Task, Threshold

_SHOWN_CLASSES = 20  # recall rows in the table; the JSON and JUnit file have them all


def check_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    data_file: Annotated[
        Path,
        typer.Option(
            "--data",
            "-d",
            help="CSV (with a header) or JSON Lines: inputs and expected answers.",
            dir_okay=False,
            show_default=False,
        ),
    ],
    label: Annotated[
        str | None,
        typer.Option(help="Column/field of the expected answers [default: label, target or y]."),
    ] = None,
    task: Annotated[
        Task | None,
        typer.Option(
            help="Classification or regression [default: from the expected answers: fractional "
            "numbers or over 50 distinct integers mean regression]."
        ),
    ] = None,
    minimum: Annotated[
        list[str] | None,
        typer.Option(
            "--min",
            metavar="METRIC=VALUE",
            help="Fail below this, e.g. accuracy=0.9, min_recall=0.8, recall:3=0.7, "
            "agreement=0.99; repeatable.",
        ),
    ] = None,
    maximum: Annotated[
        list[str] | None,
        typer.Option(
            "--max",
            metavar="METRIC=VALUE",
            help="Fail above this, e.g. mae=0.5, rmse=1, max_abs_error=3, error_rate=0.01 "
            "(default error_rate=0: every row answered); repeatable.",
        ),
    ] = None,
    variant: Annotated[
        str | None, typer.Option(help="Test this production variant alone (TargetVariant).")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            help="With --variant: that variant of this endpoint config's fleet, e.g. a green "
            "fleet that has no traffic yet."
        ),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            help="Also send the rows to this variant and measure agreement with its answers."
        ),
    ] = None,
    compare_config: Annotated[
        str | None, typer.Option(help="With --compare: that variant of this config's fleet.")
    ] = None,
    rtol: Annotated[
        float, typer.Option(help="Numbers agree within atol + rtol * |reference|.", min=0)
    ] = RTOL,
    atol: Annotated[float, typer.Option(help="See --rtol.", min=0)] = ATOL,
    batch: Annotated[
        int,
        typer.Option(
            help="Rows per request (1 for a model that takes one row).", min=1, max=MAX_BATCH
        ),
    ] = DEFAULT_BATCH,
    concurrency: Annotated[
        int, typer.Option(help="Requests in flight.", min=1, max=64)
    ] = CONCURRENCY,
    junit_file: Annotated[
        Path | None,
        typer.Option("--junit", help="Write a JUnit XML report here (for CI).", dir_okay=False),
    ] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Run a data file's rows through an endpoint and check the answers: accuracy and
    per-class recall (classification) or MAE, RMSE and max abs error (regression) against
    --min/--max thresholds, or agreement with another variant. Exit 0 pass, 1 fail."""
    if config is not None and variant is None:
        raise typer.BadParameter("--config needs --variant (a variant of that config)",
                                 param_hint="--config")  # fmt: skip
    if compare_config is not None and compare is None:
        raise typer.BadParameter("--compare-config needs --compare", param_hint="--compare-config")
    thresholds = _thresholds(minimum, maximum)
    try:
        dataset = data.read(data_file, label)
    except data.DataError as exc:
        fail(str(exc), code=2)
    rows = dataset.rows
    comparing = compare is not None
    if not dataset.labelled and not comparing:
        fail(
            f"{data_file} has no column of expected answers ({', '.join(data.LABEL_NAMES)}): "
            "name it with --label, or compare with another variant with --compare", code=2,
        )  # fmt: skip
    resolved = resolve_task(task, rows)
    _check_usable(rows, thresholds, resolved, comparing)
    target = Target(endpoint, variant, config)
    reference = Target(endpoint, compare, compare_config) if comparing else None
    started = time.time()
    try:
        with connect(url, credentials) as client:
            report = _run(client, rows, thresholds, target, resolved, reference, batch,
                          concurrency, rtol, atol, show=not as_json)  # fmt: skip
    except CheckAborted as exc:
        if junit_file is not None:
            _write(junit_file, junit.error_xml(str(exc), endpoint, started, time.time() - started))
        fail(str(exc))
    if junit_file is not None:
        _write(junit_file, junit.report_xml(report, endpoint, started))
    if as_json:
        print_json(report.to_json())
    else:
        console.print(report_table(report))
        colour = "green" if report.passed else "red"
        console.print(f"[bold {colour}]{'PASS' if report.passed else 'FAIL'}[/] {report.summary()}")
    if not report.passed:
        raise typer.Exit(1)


def _thresholds(minimum: list[str] | None, maximum: list[str] | None) -> list[Threshold]:
    found = []
    for texts, bound in ((minimum or [], Bound.MIN), (maximum or [], Bound.MAX)):
        for text in texts:
            try:
                found.append(th.parse(text, bound))
            except th.ThresholdError as exc:
                raise typer.BadParameter(str(exc), param_hint=f"--{bound.value}") from None
    return found


def _check_usable(
    rows: tuple[Row, ...], thresholds: list[Threshold], task: Task | None, comparing: bool
) -> None:
    """Exit 2 before sending anything when the thresholds or answers cannot work."""
    if task is None:  # no expected answers: decided from the compared variant's answers
        for t in thresholds:
            if t.metric not in (m.AGREEMENT, m.ERROR_RATE):
                fail(f"{t.metric} needs expected answers; this file has none (--label)", code=2)
        return
    try:
        th.check_names(thresholds, task, comparing)
    except th.ThresholdError as exc:
        fail(str(exc), code=2)
    if task is Task.REGRESSION:
        for number, row in enumerate(rows, 1):
            if row.expected is not None and m.number_of(row.expected) is None:
                fail(f"row {number}: the expected answer {row.expected!r} is not a number, "
                     "which a regression test needs (--task classification?)", code=2)  # fmt: skip


def _run(
    client: Client, rows: tuple[Row, ...], thresholds: list[Threshold], target: Target,
    task: Task | None, reference: Target | None, batch: int, concurrency: int, rtol: float,
    atol: float, *, show: bool,
) -> Report:  # fmt: skip
    total = len(rows) * (2 if reference is not None else 1)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err_console, transient=True, disable=not show) as progress:
        bar = progress.add_task(f"rows → {target.describe()}", total=total)
        return run_check(
            client, rows, thresholds, target, task=task, compare=reference, batch_size=batch,
            concurrency=concurrency, rtol=rtol, atol=atol,
            on_progress=lambda done: progress.update(bar, completed=done),
        )  # fmt: skip


def report_table(report: Report) -> Table:
    """Each metric with its threshold and verdict (per-class recall: the first classes)."""
    table = Table(
        "metric", "value", "threshold", "result",
        title=f"{report.target}: {report.task.value}, {report.rows} rows, "
        f"{report.answers.count} answered in {report.answers.requests} requests "
        f"({report.seconds:.1f} s)",
        box=None,
    )  # fmt: skip
    verdicts = {v.threshold.metric: v for v in report.verdicts}
    recalls = 0
    for name, value in report.metrics.items():
        if name.startswith(m.RECALL_PREFIX):
            recalls += 1
            if recalls > _SHOWN_CLASSES and name not in verdicts:
                continue
        verdict = verdicts.pop(name, None)
        table.add_row(name, _value(value), *_judged(verdict))
    for verdict in verdicts.values():  # thresholds on metrics not computed
        table.add_row(verdict.threshold.metric, "—", *_judged(verdict))
    return table


def _judged(verdict: th.Verdict | None) -> tuple[str, str]:
    if verdict is None:
        return "", ""
    result = "[green]pass[/]" if verdict.passed else "[bold red]FAIL[/]"
    return str(verdict.threshold).split(" ", 1)[1], result


def _value(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4g}"


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}", code=2)
