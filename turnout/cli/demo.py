"""`turnout demo`: the seed's scenario, start to finish, on this machine.

Trains two digit classifiers that differ only in learning rate, serves them behind one
endpoint at 50/50, sends traffic, shows per-variant numbers, then moves 90% of the traffic
to the more accurate one and shows the new split. Last, an A/B experiment: simulated users
(sticky by their key) convert at 10% on A and 20% on B, their conversions come back as
feedback, and the report names the winner. A `turnout serve` child process does the
serving, exactly as a person would run it.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from turnout.cli.background import BackgroundServer, ServerDidNotStart, free_port
from turnout.cli.common import console, fail
from turnout.cli.demo_models import Holdout, TrainedModel, train
from turnout.cli.experiments import print_report
from turnout.cli.tally import Outcome, Tally, tally
from turnout.cli.waiting import wait_with_status
from turnout.client import Client, TurnoutClientError, Variant

ENDPOINT = "digits"
CONFIG = "digits-ab"
VARIANTS = {"A": "digits-a", "B": "digits-b"}
# The A/B part's simulated conversion rates, and its fewest users: enough for the sequential
# test to tell 10% from 20% (1,000 users per arm), few enough to take seconds.
CONVERSION = {"A": 0.10, "B": 0.20}
AB_USERS = 2000


def demo_command(
    requests: Annotated[
        int, typer.Option(help="Requests to send in each phase.", min=10, max=1_000_000)
    ] = 2000,
    concurrency: Annotated[
        int, typer.Option(help="Requests in flight at once.", min=1, max=256)
    ] = 4,
    port: Annotated[
        int, typer.Option(help="Port to serve on (another free one if it is taken).")
    ] = 8080,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Keep the demo's models, store and logs here (a new or empty directory). "
            "Default: a temporary directory removed at the end.",
            file_okay=False,
        ),
    ] = None,
    exit_after: Annotated[
        bool,
        typer.Option("--exit", help="Stop after the second table instead of serving on."),
    ] = False,
) -> None:
    """Two models, one endpoint, weighted variants: train, serve, send traffic, shift it."""
    work = _work_dir(data_dir)
    server: BackgroundServer | None = None
    try:
        console.rule("[bold]turnout demo")
        with console.status("training two digit classifiers (scikit-learn MLP) ..."):
            models, holdout = train(work / "artifacts")
        console.print(_models_table(models))

        server = BackgroundServer(work / "server", port=free_port(port))
        with console.status("starting turnout serve ..."):
            try:
                server.start()
            except ServerDidNotStart as exc:
                fail(str(exc))
        console.print(f"turnout serve is running at [bold]{server.url}[/]")
        with Client(server.url) as client:
            _deploy(client, models)
            weights = {"A": 0.5, "B": 0.5}
            first = _phase(client, holdout, requests, concurrency, weights)
            best = max(first.rows, key=lambda row: row.accuracy).variant
            weights = {name: 0.9 if name == best else 0.1 for name in VARIANTS}
            console.print(
                f"\n[bold]{best}[/] answered most accurately: shifting 90% of the traffic to it "
                f"(turnout traffic {ENDPOINT} "
                + " ".join(f"{k}={v:g}" for k, v in weights.items())
                + ")"
            )
            client.update_traffic(ENDPOINT, weights)
            wait_with_status(client, ENDPOINT, timeout=120)
            _phase(client, holdout, requests, concurrency, weights)
            _experiment(client, holdout, max(requests, AB_USERS), concurrency)
        if exit_after:
            return
        _serve_until_interrupted(server)
    finally:
        if server is not None:
            with console.status("stopping turnout serve ..."):
                server.stop()
        if data_dir is None:
            shutil.rmtree(work, ignore_errors=True)


def _work_dir(data_dir: Path | None) -> Path:
    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix="turnout-demo-"))
    data_dir = data_dir.expanduser()
    if data_dir.exists() and any(data_dir.iterdir()):
        fail(f"{data_dir} is not empty: give a new or empty --data-dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _deploy(client: Client, models: list[TrainedModel]) -> None:
    for model in models:
        client.create_model(model.name, str(model.path))
    variants = [Variant(name, model, weight=0.5) for name, model in VARIANTS.items()]
    client.create_endpoint_config(CONFIG, variants)
    client.create_endpoint(ENDPOINT, CONFIG)
    console.print(
        f"endpoint [bold]{ENDPOINT}[/]: variants "
        + ", ".join(f"{name}→{model}" for name, model in VARIANTS.items())
        + " at 50/50"
    )
    wait_with_status(client, ENDPOINT, timeout=300)


def _phase(
    client: Client, holdout: Holdout, requests: int, concurrency: int, weights: dict[str, float]
) -> Tally:
    label = " / ".join(f"{name} {weight:g}" for name, weight in weights.items())
    outcomes = _send_traffic(client, holdout, requests, concurrency, f"weights {label}")
    result = tally(outcomes)
    if not result.rows:
        fail(f"every request failed, e.g.: {next(o.error for o in outcomes if o.error)}")
    console.print(_tally_table(result, f"{requests} requests at {label}"))
    return result


def _send_traffic(
    client: Client, holdout: Holdout, requests: int, concurrency: int, description: str
) -> list[Outcome]:
    def one(i: int) -> Outcome:
        row = i % len(holdout.rows)
        start = time.perf_counter()
        try:
            answer = client.invoke(ENDPOINT, [holdout.rows[row]])
        except TurnoutClientError as exc:
            return Outcome("", False, time.perf_counter() - start, error=str(exc))
        elapsed = time.perf_counter() - start
        return Outcome(answer.variant, answer.json() == [holdout.labels[row]], elapsed)

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    outcomes = []
    with Progress(*columns, console=console) as progress, ThreadPoolExecutor(concurrency) as pool:
        task = progress.add_task(description, total=requests)
        for outcome in pool.map(one, range(requests)):
            outcomes.append(outcome)
            progress.advance(task)
    return outcomes


def _experiment(client: Client, holdout: Holdout, users: int, concurrency: int) -> None:
    """A/B test: sticky users, simulated conversions sent as feedback, the report."""
    console.rule("[bold]A/B experiment")
    client.update_traffic(ENDPOINT, {"A": 0.5, "B": 0.5})
    wait_with_status(client, ENDPOINT, timeout=120)
    client.create_experiment(
        ENDPOINT,
        {"name": "signup", "variants": ["A", "B"], "control": "A",
         "primary": {"name": "converted"}, "minimum_sample": 500, "method": "sequential"},
    )  # fmt: skip
    console.print(
        f"experiment [bold]signup[/] on {ENDPOINT} at 50/50: {users:,} simulated users, each "
        "with its own X-Turnout-User key; they convert at "
        + ", ".join(f"{v} {rate:.0%}" for v, rate in CONVERSION.items())
    )

    def visit(i: int) -> str:
        try:
            return client.invoke(
                ENDPOINT, [holdout.rows[i % len(holdout.rows)]], user=f"u{i}"
            ).variant
        except TurnoutClientError:
            return ""

    rng = random.Random(2026)  # seeded: the same run gives the same users' outcomes
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress, ThreadPoolExecutor(concurrency) as pool:
        task = progress.add_task("users visiting", total=users)
        variants = []
        for variant in pool.map(visit, range(users)):
            variants.append(variant)
            progress.advance(task)
    events = [
        {"metric": "converted", "value": 1, "user": f"u{i}"}
        for i, variant in enumerate(variants)
        if variant and rng.random() < CONVERSION[variant]
    ]
    client.send_feedback(ENDPOINT, events)
    console.print(f"{len(events):,} conversions sent as feedback (turnout feedback ...)")
    deadline = time.monotonic() + 30  # exposures reach the store within about a second
    report = client.experiment_report(ENDPOINT, "signup")
    while sum(report["users"].values()) < sum(1 for v in variants if v):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
        report = client.experiment_report(ENDPOINT, "signup")
    print_report(report)


def _models_table(models: list[TrainedModel]) -> Table:
    table = Table("model", "learning rate", "held-out accuracy", title="trained")
    for model in models:
        table.add_row(model.name, f"{model.learning_rate:g}", f"{model.holdout_accuracy:.1%}")
    return table


def _tally_table(result: Tally, title: str) -> Table:
    table = Table(
        "variant", "model", "requests", "share", "accuracy", "p50 ms", "p99 ms", title=title
    )
    for row in result.rows:
        table.add_row(
            row.variant,
            VARIANTS.get(row.variant, "?"),
            str(row.requests),
            f"{row.share:.1%}",
            f"{row.accuracy:.1%}",
            f"{row.p50_ms:.2f}",
            f"{row.p99_ms:.2f}",
        )
    if result.failed:
        table.caption = f"[red]{result.failed} of {result.total} requests failed[/]"
    return table


def _serve_until_interrupted(server: BackgroundServer) -> None:
    console.print(
        f"\nStill serving. Open the dashboard at {server.url}/ or try:\n"
        f"  curl -s {server.url}/endpoints/{ENDPOINT}/invocations "
        f"-H 'Content-Type: application/json' -d '[[{', '.join(['0'] * 64)}]]' -i\n"
        f"  TURNOUT_URL={server.url} turnout endpoint describe {ENDPOINT}\n"
        f"  TURNOUT_URL={server.url} turnout top\n"
        "Press Ctrl-C to stop."
    )
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        console.print(f"[red]turnout serve stopped unexpectedly:[/] {server.log_tail()}")
    except KeyboardInterrupt:
        console.print("\nstopping ...")
