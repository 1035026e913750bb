"""Soak: a long run of mixed traffic with live changes, watching memory and errors.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 120] [--weight-every 60]
                                   [--deploy-every 240] [--sample-every 10]
                                   [--max-growth-mb 64] [--out bench/results]

It starts its own `turnout serve` (a data dir in a temporary folder, 127.0.0.1, a free
port), trains two digits classifiers (scikit-learn, on the spot), and puts them behind the
endpoint `soak` as two production variants (A and B, one instance each). Then, for
--minutes:

- traffic at --rate requests/s in total (open loop, spread over a few threads), mixed:
  InvokeEndpoint plain, with a sticky user header (`X-Turnout-User`, 1000 users), with
  `X-Amzn-SageMaker-Target-Variant` (the answer must come from that variant), REST reads
  (`/api/v1/endpoints/soak`), metrics reads (`.../metrics/summary`, Prometheus `/metrics`),
  dashboard JSON reads (`/dashboard/api/overview`, `/dashboard/api/endpoints/soak`), and 1%
  injected bad requests (an unknown target variant, which must answer 400);
- every --weight-every seconds, UpdateEndpointWeightsAndCapacities (boto3) with new random
  weights, then a check that the endpoint is InService with those weights; every
  --deploy-every seconds instead a guarded blue/green deployment (UpdateEndpoint with a
  BlueGreenUpdatePolicy, canary 50%, an Invocation5XXErrors alarm on the green fleet)
  alternating between two endpoint configs that swap the models, which must succeed;
- every --sample-every seconds, the RSS of `turnout serve` and of each of its child
  processes (instances are told apart by their pid in the node report, /api/v1/nodes; a
  worker not in the report, starting or stopping, is sampled as "transient" and left out of
  the figures).

At the end: tables (requests and errors by kind, RSS per role: first vs last window — five
minutes, or a third of a short run —, slope in MB/hour per process after its first
minute (median over the role's processes), peak), and
bench/results/soak-<timestamp>.json (figures and every sample) and .csv (the samples).
Exit status 1 when any error happened outside the injected ones, or when a role's RSS
grew more than --max-growth-mb; 0 otherwise. Everything is bounded: the run stops by
itself, and only the `turnout serve` it started (and so its instances) is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import httpx
import joblib
import psutil
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from soak_figures import RoleFigures, Sample, over_bound, role_figures

from turnout.cli.background import BackgroundServer

HERE = Path(__file__).resolve().parent
ENDPOINT = "soak"
CONFIGS = ("soak-1", "soak-2")  # the blue/green deployments alternate between these
VARIANTS = ("A", "B")
USERS = 1000
JSON = {"content-type": "application/json"}
INVOKED = "x-amzn-invoked-production-variant"
# Share of each kind of request in the mix (normalized by random.choices).
MIX: dict[str, float] = {
    "invoke": 45,
    "invoke-sticky": 25,
    "invoke-target": 15,
    "injected-bad-target": 1,
    "rest-endpoint": 6,
    "metrics-summary": 3,
    "prometheus": 2,
    "dashboard-overview": 2,
    "dashboard-endpoint": 1,
}
CANARY_BAKE_S = 15
SETTLE_TIMEOUT_S = 300  # an action not InService by then is an error
BOTO = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)


# --- setup ------------------------------------------------------------------------------
def train(work: Path) -> tuple[Path, Path, list[float]]:
    """Two digits classifiers (different regularization) and one held-out JSON row."""
    x, y = load_digits(return_X_y=True)
    dirs = []
    for name, c in (("model-a", 1.0), ("model-b", 0.05)):
        (work / name).mkdir()
        joblib.dump(
            LogisticRegression(C=c, max_iter=2000).fit(x[:-100], y[:-100]),
            work / name / "model.joblib",
        )
        dirs.append(work / name)
    return dirs[0], dirs[1], [float(v) for v in x[-1]]


def aws_clients(url: str) -> tuple[Any, Any]:
    """(sagemaker, cloudwatch) boto3 clients; the server has no credentials, any key signs."""
    options = {
        "endpoint_url": url,
        "region_name": "us-east-1",
        "aws_access_key_id": "soak",
        "aws_secret_access_key": "soak",
        "config": BOTO,
    }
    return boto3.client("sagemaker", **options), boto3.client("cloudwatch", **options)


def deploy(url: str, sm: Any, cloudwatch: Any, model_a: Path, model_b: Path) -> None:
    """Models (native API: a directory artifact), two configs swapping them, an alarm on
    each config's own 5XX rate, and the endpoint on the first config."""
    with httpx.Client(base_url=url, timeout=30) as api:
        for name, artifact in (("soak-a", model_a), ("soak-b", model_b)):
            api.post(
                "/api/v1/models", json={"name": name, "artifact": str(artifact)}
            ).raise_for_status()
    for config, models in zip(CONFIGS, (("soak-a", "soak-b"), ("soak-b", "soak-a")), strict=True):
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": v,
                    "ModelName": m,
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 0.5,
                    "InstanceType": "ml.m5.large",
                }
                for v, m in zip(VARIANTS, models, strict=True)
            ],
        )
        cloudwatch.put_metric_alarm(
            AlarmName=f"{config}-5xx",
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Dimensions=[
                {"Name": "EndpointName", "Value": ENDPOINT},
                {"Name": "EndpointConfigName", "Value": config},
            ],
            Statistic="Average",
            Period=10,
            EvaluationPeriods=1,
            Threshold=0.05,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
        )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=CONFIGS[0])
    settled(sm, CONFIGS[0], lambda: False)


class NotSettled(Exception):
    """The endpoint did not come back InService as asked; str says how it ended."""


def settled(sm: Any, config: str, stopping: Callable[[], bool]) -> dict[str, Any]:
    """Poll DescribeEndpoint until InService on `config` (bounded); the last description."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline and not stopping():
        described: dict[str, Any] = sm.describe_endpoint(EndpointName=ENDPOINT)
        status = described["EndpointStatus"]
        if status == "InService":
            if described["EndpointConfigName"] != config:
                raise NotSettled(f"InService on {described['EndpointConfigName']}, not {config}")
            return described
        if status == "Failed":
            raise NotSettled(f"Failed: {described.get('FailureReason', '')}")
        time.sleep(0.5)
    raise NotSettled(f"not InService on {config} within {SETTLE_TIMEOUT_S} s")


# --- what happened ----------------------------------------------------------------------
@dataclass
class Tally:
    """Counts shared by the threads (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # "kind: what" -> count
    examples: dict[str, str] = field(default_factory=dict)  # first answer of each error
    injected: int = 0  # bad requests refused as they should be
    behind: int = 0  # ticks skipped because the generator fell > 1 s behind
    latencies: dict[str, list[float]] = field(default_factory=dict)
    actions: Counter[str] = field(default_factory=Counter)  # weights / deployments done
    action_seconds: dict[str, list[float]] = field(default_factory=dict)

    def request(self, kind: str, seconds: float, error: str | None, example: str = "") -> None:
        with self.lock:
            self.sent[kind] += 1
            self.latencies.setdefault(kind, []).append(seconds)
            if error is not None:
                key = f"{kind}: {error}"
                self.errors[key] += 1
                self.examples.setdefault(key, example[:300])

    def action(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.actions[kind] += 1
                self.action_seconds.setdefault(kind, []).append(seconds)
            else:
                self.errors[f"{kind}: {error}"] += 1

    def crashed(self, thread: str, exc: BaseException) -> None:
        with self.lock:
            self.errors[f"{thread} thread: {type(exc).__name__}: {exc}"[:200]] += 1

    def error_count(self) -> int:
        with self.lock:
            return sum(self.errors.values())


def guarded(tally: Tally, name: str, target: Callable[..., None]) -> Callable[..., None]:
    """`target`, with an exception it lets out counted as an error instead of lost."""

    def run(*args: Any) -> None:
        try:
            target(*args)
        except Exception as exc:
            tally.crashed(name, exc)

    return run


# --- traffic ----------------------------------------------------------------------------
def check(kind: str, answer: httpx.Response, target: str | None) -> str | None:
    """What is wrong with an answer to a request of `kind`, or None."""
    if kind == "injected-bad-target":
        return None if answer.status_code == 400 else f"status {answer.status_code}, not 400"
    if answer.status_code != 200:
        code = answer.headers.get("x-amzn-errortype", "")
        return f"status {answer.status_code} {code}".strip()
    if target is not None and answer.headers.get(INVOKED) != target:
        return f"answered by {answer.headers.get(INVOKED)!r}, not the target {target}"
    return None


def one_request(
    http: httpx.Client, kind: str, rng: random.Random, body: bytes
) -> tuple[httpx.Response, str | None]:
    """Send one request of `kind`; (the answer, the target variant when one was asked)."""
    invoke = f"/endpoints/{ENDPOINT}/invocations"
    if kind == "invoke":
        return http.post(invoke, content=body, headers=JSON), None
    if kind == "invoke-sticky":
        user = {"x-turnout-user": f"user-{rng.randrange(USERS)}"}
        return http.post(invoke, content=body, headers={**JSON, **user}), None
    if kind in ("invoke-target", "injected-bad-target"):
        target = rng.choice(VARIANTS) if kind == "invoke-target" else "NoSuchVariant"
        headers = {**JSON, "x-amzn-sagemaker-target-variant": target}
        return http.post(invoke, content=body, headers=headers), target
    path = {
        "rest-endpoint": f"/api/v1/endpoints/{ENDPOINT}",
        "metrics-summary": f"/api/v1/endpoints/{ENDPOINT}/metrics/summary?since=300",
        "prometheus": "/metrics",
        "dashboard-overview": "/dashboard/api/overview",
        "dashboard-endpoint": f"/dashboard/api/endpoints/{ENDPOINT}",
    }[kind]
    return http.get(path), None


def traffic_thread(
    url: str, tally: Tally, stop: threading.Event, interval: float, seed: int, body: bytes
) -> None:
    """Open loop: one request every `interval` seconds; never bursts to catch up."""
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    next_at = time.monotonic() + rng.random() * interval
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            now = time.monotonic()
            if next_at > now:
                stop.wait(next_at - now)
                continue
            if now - next_at > 1:
                with tally.lock:
                    tally.behind += int((now - next_at) / interval)
                next_at = now
            next_at += interval
            kind = rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            try:
                answer, target = one_request(http, kind, rng, body)
            except httpx.HTTPError as exc:
                tally.request(kind, time.perf_counter() - started, type(exc).__name__, str(exc))
                continue
            error = check(kind, answer, target)
            tally.request(kind, time.perf_counter() - started, error, answer.text)
            if kind == "injected-bad-target" and error is None:
                with tally.lock:
                    tally.injected += 1
            # turnout sets a turnout_user cookie on unkeyed invocations; dropping it keeps
            # "invoke" unkeyed (a browser would keep it: that is "invoke-sticky"'s job).
            http.cookies.clear()


# --- live changes -----------------------------------------------------------------------
def control_thread(
    sm: Any, tally: Tally, stop: threading.Event, end_at: float, args: argparse.Namespace
) -> None:
    """Every --weight-every s a weight change; every --deploy-every s a deployment instead.

    An action that could not finish before the end is not started."""
    rng = random.Random(7)
    serving = CONFIGS[0]
    step = 0
    start = time.monotonic()
    while True:
        step += 1
        at = start + step * args.weight_every
        if stop.wait(max(0.0, at - time.monotonic())):
            return
        deploying = (step * args.weight_every) % args.deploy_every < args.weight_every / 2
        if end_at - time.monotonic() < (CANARY_BAKE_S * 6 if deploying else 20):
            continue  # would not finish before the end: skip it
        began = time.monotonic()
        try:
            if deploying:
                green = CONFIGS[1] if serving == CONFIGS[0] else CONFIGS[0]
                blue_green(sm, green, stop.is_set)
                serving = green
            else:
                change_weights(sm, serving, rng.uniform(0.1, 0.9), stop.is_set)
            error = None
        except (NotSettled, ClientError, BotoCoreError) as exc:
            error = " ".join(str(exc).split())[:200]
        tally.action(
            "deployment" if deploying else "weight change", time.monotonic() - began, error
        )


def change_weights(sm: Any, config: str, a: float, stopping: Callable[[], bool]) -> None:
    wanted = {"A": round(a, 3), "B": round(1 - a, 3)}
    sm.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[
            {"VariantName": v, "DesiredWeight": w} for v, w in wanted.items()
        ],
    )
    described = settled(sm, config, stopping)
    got = {v["VariantName"]: round(v["CurrentWeight"], 3) for v in described["ProductionVariants"]}
    if got != wanted:
        raise NotSettled(f"weights {got} after asking for {wanted}")


def blue_green(sm: Any, green: str, stopping: Callable[[], bool]) -> None:
    sm.update_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName=green,
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                    "WaitIntervalInSeconds": CANARY_BAKE_S,
                },
                "TerminationWaitInSeconds": 0,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": f"{green}-5xx"}]},
        },
    )
    settled(sm, green, stopping)


# --- memory -----------------------------------------------------------------------------
def instance_labels(http: httpx.Client) -> dict[int, str]:
    """pid -> "config/variant" of every instance the node reports."""
    labels: dict[int, str] = {}
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
        for node in http.get("/api/v1/nodes").json()["nodes"]:
            for i in node["instances"]:
                if i.get("pid"):
                    labels[int(i["pid"])] = f"{i['config']}/{i['variant']}"
    return labels


def role_of(command: str) -> str:
    """An instance worker the node report does not list (yet, or any more: it is starting
    or stopping) is "transient", kept apart from the figures; anything else is "other"."""
    return "transient" if "turnout.instances.worker" in command else "other"


def sample_once(serve_pid: int, http: httpx.Client, t: float) -> list[Sample]:
    """RSS of `turnout serve` and each of its descendants, now."""
    labels = instance_labels(http)
    samples = []
    try:
        serve = psutil.Process(serve_pid)
        samples.append(
            Sample(t, serve_pid, "serve", "turnout serve", serve.memory_info().rss / 2**20)
        )
        children = serve.children(recursive=True)
    except psutil.Error:
        return samples
    for child in children:
        with contextlib.suppress(psutil.Error):
            command = " ".join(child.cmdline()[:4])
            role = "instance" if child.pid in labels else role_of(command)
            label = labels.get(child.pid, command)
            samples.append(Sample(t, child.pid, role, label, child.memory_info().rss / 2**20))
    return samples


def sampler_thread(
    url: str,
    serve_pid: int,
    samples: list[Sample],
    stop: threading.Event,
    every: float,
    start: float,
) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        while True:
            samples.extend(sample_once(serve_pid, http, round(time.monotonic() - start, 1)))
            if stop.wait(every):
                # One last round at the very end, so the last window is complete.
                samples.extend(sample_once(serve_pid, http, round(time.monotonic() - start, 1)))
                return


# --- the run ----------------------------------------------------------------------------
@dataclass
class Run:
    duration: float
    tally: Tally
    samples: list[Sample]
    figures: list[RoleFigures]
    load: tuple[list[float], list[float]]  # load average (1, 5, 15 min) at start, at end


def soak(args: argparse.Namespace, server: BackgroundServer, body: bytes, console: Console) -> Run:
    assert server.process is not None
    sm, _ = aws_clients(server.url)
    tally, samples, stop = Tally(), list[Sample](), threading.Event()
    duration = args.minutes * 60
    load_start = list(os.getloadavg())
    start = time.monotonic()
    end_at = start + duration
    threads = [
        threading.Thread(
            target=guarded(tally, "sampler", sampler_thread),
            daemon=True,
            args=(server.url, server.process.pid, samples, stop, args.sample_every, start),
        ),
        threading.Thread(
            target=guarded(tally, "control", control_thread),
            daemon=True,
            args=(sm, tally, stop, end_at, args),
        ),
    ] + [
        threading.Thread(
            target=guarded(tally, "traffic", traffic_thread),
            daemon=True,
            args=(server.url, tally, stop, args.threads / args.rate, seed, body),
        )
        for seed in range(args.threads)
    ]
    for thread in threads:
        thread.start()
    columns = (
        TextColumn("soak"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
    )
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("", total=duration)
            while (now := time.monotonic()) < end_at:
                progress.update(
                    task, completed=now - start, description=status_line(tally, samples)
                )
                time.sleep(1)
            progress.update(task, completed=duration)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=SETTLE_TIMEOUT_S + 10)
    measured = time.monotonic() - start
    figures = [
        f
        for role in ("serve", "instance", "other")
        if (f := role_figures(samples, role, measured)) is not None
    ]
    return Run(measured, tally, samples, figures, (load_start, list(os.getloadavg())))


def status_line(tally: Tally, samples: list[Sample]) -> str:
    with tally.lock:
        sent, errors = sum(tally.sent.values()), sum(tally.errors.values())
        weights, deploys = tally.actions["weight change"], tally.actions["deployment"]
    serve = next((s.rss_mb for s in reversed(samples) if s.role == "serve"), 0.0)
    return (
        f"{sent} requests, {errors} errors, {weights} weight changes, {deploys} "
        f"deployments, serve RSS {serve:.0f} MB"
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(run: Run, args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    t = run.tally
    return {
        "command": " ".join(sys.argv),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "minutes": round(run.duration / 60, 2),
        "rate": args.rate,
        "cpus": os.cpu_count(),
        "load_average_start": run.load[0],
        "load_average_end": run.load[1],
        "requests": dict(t.sent),
        "requests_total": sum(t.sent.values()),
        "requests_per_second": round(sum(t.sent.values()) / run.duration, 1),
        "behind": t.behind,
        "injected_refused": t.injected,
        "latency_ms": {
            k: {
                "p50": round(percentile(v, 0.5) * 1000, 2),
                "p99": round(percentile(v, 0.99) * 1000, 2),
            }
            for k, v in t.latencies.items()
        },
        "errors": dict(t.errors),
        "error_examples": t.examples,
        "weight_changes": t.actions["weight change"],
        "deployments": t.actions["deployment"],
        "action_seconds_mean": {
            k: round(statistics.fmean(v), 1) for k, v in t.action_seconds.items()
        },
        "rss": [f.as_dict() for f in run.figures],
        "max_growth_mb": args.max_growth_mb,
        "problems": problems,
    }


def print_report(console: Console, run: Run, report: dict[str, Any]) -> None:
    requests = Table(title=f"Requests ({report['minutes']:.1f} min)")
    for column in ("kind", "sent", "errors", "p50 ms", "p99 ms"):
        requests.add_column(column, justify="left" if column == "kind" else "right")
    for kind in MIX:
        errors = sum(n for k, n in run.tally.errors.items() if k.startswith(f"{kind}:"))
        lat = report["latency_ms"].get(kind, {"p50": 0, "p99": 0})
        requests.add_row(
            kind, str(run.tally.sent[kind]), str(errors), f"{lat['p50']:.1f}", f"{lat['p99']:.1f}"
        )
    console.print(requests)
    rss = Table(title="RSS per role (MB; instances: mean per live instance)")
    for column in ("role", "processes", "first window", "last window", "growth", "MB/hour", "peak"):
        rss.add_column(column, justify="left" if column == "role" else "right")
    for f in run.figures:
        rss.add_row(
            f.role,
            str(f.processes),
            f"{f.start_mb:.1f}",
            f"{f.end_mb:.1f}",
            f"{f.growth_mb:+.1f}",
            f"{f.slope_mb_per_hour:+.1f}",
            f"{f.peak_mb:.1f}",
        )
    console.print(rss)
    console.print(
        f"{report['requests_total']} requests ({report['requests_per_second']:g}/s; "
        f"{report['injected_refused']} injected bad "
        f"ones refused as they should be; {report['behind']} ticks skipped behind schedule), "
        f"{report['weight_changes']} weight changes, {report['deployments']} blue/green "
        f"deployments; load average {report['load_average_start'][0]:.1f} at the start, "
        f"{report['load_average_end'][0]:.1f} at the end on {report['cpus']} CPUs"
    )
    for key, count in sorted(run.tally.errors.items()):
        console.print(f"[red]error[/red] {key} x{count}: {run.tally.examples.get(key, '')}")
    for line in report["problems"]:
        console.print(f"[red]FAIL[/red] {line}")


def write_results(out: Path, run: Run, report: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path, csv_path = out / f"soak-{stamp}.json", out / f"soak-{stamp}.csv"
    json_path.write_text(
        json.dumps({**report, "samples": [s._asdict() for s in run.samples]}, indent=1)
    )
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(Sample._fields)
        writer.writerows(run.samples)
    return json_path, csv_path


@contextlib.contextmanager
def hard_limit(seconds: float) -> Iterator[None]:
    """SIGALRM after `seconds`: whatever hangs, the run ends (and its server is stopped)."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"soak: still running {seconds:.0f} s after the start; giving up")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="traffic time (default 30)")
    parser.add_argument("--rate", type=float, default=120.0, help="requests/s in total")
    parser.add_argument(
        "--threads",
        type=int,
        default=16,
        help="traffic threads (open loop; enough that slow answers do not cap the rate)",
    )
    parser.add_argument(
        "--weight-every", type=float, default=60.0, help="seconds between live changes"
    )
    parser.add_argument(
        "--deploy-every",
        type=float,
        default=240.0,
        help="seconds between blue/green deployments (instead of a weight change)",
    )
    parser.add_argument(
        "--sample-every", type=float, default=10.0, help="seconds between RSS samples"
    )
    parser.add_argument(
        "--max-growth-mb",
        type=float,
        default=64.0,
        help="fail when a role's RSS grows more (first vs last window)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.threads <= 0 or args.weight_every <= 0:
        parser.error("--minutes, --rate, --threads and --weight-every must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    with (
        hard_limit(args.minutes * 60 + 900),
        tempfile.TemporaryDirectory(prefix="turnout-soak-") as tmp,
    ):
        work = Path(tmp)
        console.print("soak: training two digits classifiers ...")
        model_a, model_b, row = train(work)
        body = json.dumps([row]).encode()
        with BackgroundServer(work / "data", timeout=120) as server:
            console.print(
                f"soak: turnout serve on {server.url} (pid "
                f"{server.process.pid if server.process else '?'}), deploying ..."
            )
            deploy(server.url, *aws_clients(server.url), model_a, model_b)
            run = soak(args, server, body, console)
            stopped = server.stop()
        problems = over_bound(run.figures, args.max_growth_mb)
        if run.tally.error_count():
            problems.insert(0, f"{run.tally.error_count()} errors outside the injected ones")
        if stopped not in (0, None):
            problems.append(f"turnout serve exited with status {stopped} on SIGTERM")
        report = summary(run, args, problems)
    print_report(console, run, report)
    json_path, csv_path = write_results(args.out, run, report)
    console.print(f"soak: results in {json_path} and {csv_path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
