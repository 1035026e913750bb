"""Two routers against one on one PostgreSQL database, and how fast a weight change reaches both.

    .venv/bin/python bench/scale_out.py [--rounds 3] [--duration 10] [--concurrency 16]
                                        [--flips 50] [--postgres URL]

It creates a database turnout_bench_<random> on the PostgreSQL server (through --postgres,
a database it may create others from) and drops it at the end. Same model and body as
routed.py (a digits LogisticRegression trained on the spot; one JSON row); load from wrk
(Debian package `wrk`), one thread per wrk, on the same 2 cores as everything else.

Throughput, --rounds times; in each round, per concurrency C:
  (a) one  `turnout serve` (node r1) on the database, load through it (wrk -c C);
  (b) two  nodes, r1 and r2, on the database; the same total load split over both
           (two wrk at once, C/2 each);
  (c) two  nodes, the load through r1 only: what the idle second router costs.
r2 is started after (a) and stopped after (c) (so (a) is r1 truly alone). Reported per
configuration: req/s, p50/p99 (for (b) the worse router's), server CPU per request (every
node's process tree: router + instances), the bench database's transactions per second
(pg_stat_database: the store's traffic, which must not grow with the requests), and the
ratios (b)/(a), (c)/(a) as the median of the within-round ratios.

Propagation, with r1 (the controller) and r2 up: an endpoint with variants A and B (one
instance each per node). --flips times, UpdateEndpointWeightsAndCapacities (boto3 against r1)
flips the weights A=1,B=0 <-> A=0,B=1; right after the call returns, each router is probed
with invocations, one at a time, until it answers --streak times in a row with the new
variant (x-Amzn-Invoked-Production-Variant). That router's propagation time is from the
moment the call was sent to the arrival of the first of those answers; "both" is the later
router per flip. Between flips the endpoint is InService again (describe_endpoint, polled
alongside). turnout has no switch to turn PostgreSQL notices off, so the polling fallback is
not measured here.

Every process started binds 127.0.0.1, has a bounded run, and is stopped by its PID at the
end, on errors and on Ctrl-C. Results also go to bench/results/scale-out-<timestamp>.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import httpx
import numpy as np
import psutil
import psycopg
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from routed import HERE, cpu_seconds, deploy, ensure_wrk, prepare, rss_mb, run_wrk, wait_until
from sqlalchemy.engine import make_url

from turnout.cli.background import BackgroundServer, ServerDidNotStart

POSTGRES = os.environ.get("TURNOUT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
JSON = {"content-type": "application/json"}
VARIANT = "x-amzn-invoked-production-variant"
FLIP = "flip"  # the propagation endpoint (and its config)
NODE_BUSY_WITHIN = 3.5  # s: turnout refuses a node name that reported more recently
CONFIGS = {
    "idle": "(idle) 1 node, no load",
    "a": "(a) 1 node, load on r1",
    "b": "(b) 2 nodes, load split r1 + r2",
    "c": "(c) 2 nodes, load on r1, r2 idle",
}


# --- the database ---------------------------------------------------------------------
class Database:
    """A fresh database on the server at `admin`'s URL; counts its transactions."""

    def __init__(self, admin: str) -> None:
        base = make_url(admin).set(drivername="postgresql")
        shown = base.render_as_string(hide_password=True)
        self.name = f"turnout_bench_{secrets.token_hex(4)}"
        try:
            self._admin = psycopg.connect(
                base.render_as_string(hide_password=False), autocommit=True, connect_timeout=3
            )
            self._admin.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise SystemExit(
                f"bench: no PostgreSQL database to work in at {shown} ({reason}); start the "
                "server, or pass --postgres URL of a database whose user may create databases"
            ) from None
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        self._bench: psycopg.Connection[Any] | None = None  # to the bench database, once needed

    def transactions(self) -> int:
        """Committed and rolled-back transactions so far (the server's statistics lag ≤ 1 s)."""
        row = self._admin.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (self.name,),
        ).fetchone()
        return int(row[0]) if row else 0

    def plan(self, endpoint: str) -> tuple[int, float]:
        """The endpoint's routing plan: (version, when written by the controller's clock).

        Read from turnout's own table: a breakdown of the propagation time, nothing more."""
        if self._bench is None:
            self._bench = psycopg.connect(self.url, autocommit=True, connect_timeout=3)
        row = self._bench.execute(
            "SELECT version, updated_at FROM routing_plans WHERE endpoint = %s", (endpoint,)
        ).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def drop(self) -> None:
        if self._bench is not None:
            self._bench.close()
        with contextlib.suppress(psycopg.Error):
            # FORCE: a node killed on an error may still hold a connection.
            self._admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin.close()


@contextlib.contextmanager
def database(admin: str) -> Iterator[Database]:
    db = Database(admin)
    try:
        yield db
    finally:
        db.drop()


# --- nodes ----------------------------------------------------------------------------
def start_node(name: str, work: Path, db: Database, lease: float) -> BackgroundServer:
    """`turnout serve --node NAME` on 127.0.0.1 and a free port, answering (bounded: 60 s)."""
    args = ("--db", db.url, "--node", name, "--lease-seconds", f"{lease:g}")
    try:
        return BackgroundServer(work / name, extra_args=args, timeout=60).start()
    except ServerDidNotStart as exc:
        raise SystemExit(f"bench: node {name} did not start: {exc}") from None


def pid(node: BackgroundServer) -> int:
    assert node.process is not None
    return node.process.pid


def nodes(api: str) -> dict[str, dict[str, Any]]:
    found = httpx.get(f"{api}/api/v1/nodes", timeout=5).json()["nodes"]
    return {n["name"]: n for n in found}


def wait_name_free(api: str, name: str) -> None:
    """Until `name`'s last heartbeat is old enough for a new process to take the name."""

    def free() -> bool:
        node = nodes(api).get(name)
        return node is None or time.time() - node["heartbeat_at"] > NODE_BUSY_WITHIN

    wait_until(free, 30, f"node {name}'s name to be free")


def wait_joined(api: str, name: str) -> None:
    """Until `name` has applied every plan the controller's node has, all instances Ready."""

    def joined() -> bool:
        found = nodes(api)
        node = found.get(name)
        leader = next((n for n in found.values() if n["controller"]), None)
        return bool(
            node
            and leader
            and node["alive"]
            and node["applied"] == leader["applied"]
            and node["instances"]
            and all(i["state"] == "Ready" for i in node["instances"])
        )

    wait_until(joined, 90, f"node {name} serving")


def check_answer(url: str, body: bytes) -> None:
    answer = httpx.post(url, content=body, headers=JSON, timeout=30)
    if answer.status_code != 200 or answer.json() != [8]:
        raise SystemExit(f"bench: {url} answered {answer.status_code} {answer.text[:200]}")


# --- throughput -----------------------------------------------------------------------
@dataclass
class Point:
    config: str  # a, b, c
    round: int
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_req: float  # every running node's tree (router + instances)
    store_tps: float  # transactions per second on the bench database
    failures: int
    idle_cpu_pct: float | None = None  # (c): r2's tree, % of one core
    idle_router_pct: float | None = None  # (c): r2's router process alone


def load(targets: list[tuple[str, int]], duration: float, body: Path) -> list[dict[str, int]]:
    """wrk against every (url, connections) at once; their summaries."""
    with ThreadPoolExecutor(len(targets)) as pool:
        runs = [pool.submit(run_wrk, url, c, duration, body) for url, c in targets]
        return [run.result() for run in runs]


def measure(
    config: str,
    round_: int,
    c: int,
    targets: list[tuple[str, int]],
    pids: list[int],
    idle: int | None,
    db: Database,
    args: argparse.Namespace,
) -> Point:
    cpu0 = sum(cpu_seconds(p) for p in pids)
    idle0, router0 = (cpu_seconds(idle), own_cpu_seconds(idle)) if idle else (0.0, 0.0)
    tx0, t0 = db.transactions(), time.monotonic()
    runs = load(targets, args.duration, args.body)
    elapsed = time.monotonic() - t0
    time.sleep(1.0)  # PostgreSQL's statistics lag up to a second behind
    tx = db.transactions() - tx0
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    requests = sum(r["requests"] for r in runs)
    return Point(
        config,
        round_,
        c,
        rps=sum(r["requests"] / (r["duration_us"] / 1e6) for r in runs),
        p50_ms=max(r["p50_us"] for r in runs) / 1000,
        p99_ms=max(r["p99_us"] for r in runs) / 1000,
        cpu_ms_per_req=cpu * 1000 / max(requests, 1),
        store_tps=tx / (elapsed + 1.0),
        failures=sum(r["non2xx"] + r["socket_errors"] for r in runs),
        idle_cpu_pct=(cpu_seconds(idle) - idle0) * 100 / elapsed if idle else None,
        idle_router_pct=(own_cpu_seconds(idle) - router0) * 100 / elapsed if idle else None,
    )


def own_cpu_seconds(pid: int) -> float:
    """CPU time of the process alone (cpu_seconds counts its children too)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def idle_point(round_: int, db: Database, seconds: float, args: argparse.Namespace) -> Point:
    """The store's transactions per second while nothing is invoked (the baseline)."""
    time.sleep(args.pause)
    tx0 = db.transactions()
    time.sleep(seconds + 1.0)  # as measure(): the statistics lag
    tx = db.transactions() - tx0
    nan = float("nan")
    return Point("idle", round_, 0, 0.0, nan, nan, nan, tx / (seconds + 1.0), 0)


def url(node: BackgroundServer, endpoint: str = "bench") -> str:
    return f"{node.url}/endpoints/{endpoint}/invocations"


def measure_alone(
    r1: BackgroundServer, round_: int, db: Database, progress: Progress, task: Any, args: Any
) -> list[Point]:
    """(a) at every concurrency, after a warm-up: r1 is the only node running."""
    say(progress, task, f"round {round_}: warming r1 up")
    load([(url(r1), args.concurrency[0])], args.warmup, args.body)
    points = []
    for c in args.concurrency:
        say(progress, task, f"round {round_}: (a) c={c}")
        points.append(measure("a", round_, c, [(url(r1), c)], [pid(r1)], None, db, args))
        progress.advance(task)
        time.sleep(args.pause)
    return points


def start_r2(
    r1: BackgroundServer, work: Path, db: Database, stack: contextlib.ExitStack, args: Any
) -> BackgroundServer:
    """Node r2 on the same database, serving every endpoint r1 serves."""
    wait_name_free(r1.url, "r2")
    r2 = start_node("r2", work, db, args.lease_seconds)
    stack.callback(r2.stop)
    wait_joined(r1.url, "r2")
    check_answer(url(r2), args.body.read_bytes())
    return r2


def throughput(
    r1: BackgroundServer,
    work: Path,
    db: Database,
    stack: contextlib.ExitStack,
    progress: Progress,
    args: argparse.Namespace,
) -> tuple[list[Point], float]:
    """(a) (b) (c) --rounds times and (a) once more at the end, so that each round's (b) and
    (c) stand between two (a)s. Returns the points and the RSS of r2's tree."""
    task = progress.add_task("throughput", total=(args.rounds * 3 + 1) * len(args.concurrency))
    points: list[Point] = []
    r2_rss = 0.0
    for round_ in range(1, args.rounds + 1):
        say(progress, task, f"round {round_}: the store's traffic with no load")
        points.append(idle_point(round_, db, min(args.duration, 5.0), args))
        points += measure_alone(r1, round_, db, progress, task, args)
        say(progress, task, f"round {round_}: starting r2")
        r2 = start_r2(r1, work, db, stack, args)
        c0 = args.concurrency[0]
        load([(url(r1), c0 - c0 // 2), (url(r2), c0 // 2)], args.warmup, args.body)
        for c in args.concurrency:
            both = [pid(r1), pid(r2)]
            split, alone = [(url(r1), c - c // 2), (url(r2), c // 2)], [(url(r1), c)]
            # Alternate the order of (b) and (c) from round to round against drift.
            for config in ("b", "c") if round_ % 2 else ("c", "b"):
                say(progress, task, f"round {round_}: ({config}) c={c}")
                if config == "b":
                    points.append(measure("b", round_, c, split, both, None, db, args))
                else:
                    points.append(measure("c", round_, c, alone, both, pid(r2), db, args))
                progress.advance(task)
                time.sleep(args.pause)
        r2_rss = rss_mb(pid(r2))
        say(progress, task, f"round {round_}: stopping r2")
        r2.stop()
    points += measure_alone(r1, args.rounds + 1, db, progress, task, args)
    return points, r2_rss


# --- propagation ----------------------------------------------------------------------
@dataclass
class Flip:
    to: str
    call_ms: float  # until UpdateEndpointWeightsAndCapacities returned
    seen_ms: dict[str, float | None]  # router -> first of --streak answers from `to`
    in_service_ms: float | None  # describe_endpoint said InService again
    probes: int
    probe_errors: int
    probe_ms: float  # mean time per probe (send, answer, pause): the resolution
    plan_ms: float  # when the controller wrote the plan (its wall clock; same machine)
    plans: int  # plan versions written for this flip

    @property
    def both_ms(self) -> float | None:
        """When the later router switched; None if one did not in time."""
        seen = [t for t in self.seen_ms.values() if t is not None]
        return max(seen) if len(seen) == len(self.seen_ms) else None


@dataclass
class Probed:
    first: float | None  # perf_counter time the first of the streak arrived; None: deadline
    sent: int
    failed: int
    seconds: float


def probe(
    client: httpx.Client, url: str, body: bytes, want: str, deadline: float, args: Any
) -> Probed:
    """Invoke, one at a time, until --streak answers in a row come from `want`."""
    streak, first, sent, failed, began = 0, 0.0, 0, 0, time.perf_counter()
    while time.perf_counter() < deadline:
        try:
            answer = client.post(url, content=body, headers=JSON)
            variant = answer.headers.get(VARIANT) if answer.status_code == 200 else None
        except httpx.HTTPError:
            variant = None
        at = time.perf_counter()
        sent += 1
        failed += variant is None
        if variant == want:
            streak += 1
            first = at if streak == 1 else first
            if streak == args.streak:
                return Probed(first, sent, failed, at - began)
        else:
            streak = 0
        if args.probe_pause:
            time.sleep(args.probe_pause)
    return Probed(None, sent, failed, time.perf_counter() - began)


def status(sagemaker: Any) -> str:
    endpoint = sagemaker.describe_endpoint(EndpointName=FLIP)
    if endpoint["EndpointStatus"] == "Failed":
        raise SystemExit(f"bench: endpoint {FLIP} Failed: {endpoint.get('FailureReason')}")
    return str(endpoint["EndpointStatus"])


def wait_in_service(sagemaker: Any, deadline: float, every: float) -> float | None:
    """Poll describe_endpoint until InService: the perf_counter time seen, None at deadline."""
    while time.perf_counter() < deadline:
        if status(sagemaker) == "InService":
            return time.perf_counter()
        time.sleep(every)
    return None


def propagation(
    routers: dict[str, BackgroundServer], db: Database, progress: Progress, args: argparse.Namespace
) -> list[Flip]:
    r1 = routers["r1"]
    sagemaker = boto3.client(
        "sagemaker",
        endpoint_url=r1.url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )
    task = progress.add_task("propagation", total=args.flips)
    say(progress, task, f"deploying {FLIP} (A=1, B=0)")
    variants = [
        {
            "VariantName": name,
            "ModelName": "bench",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": weight,
        }
        for name, weight in (("A", 1.0), ("B", 0.0))
    ]
    sagemaker.create_endpoint_config(EndpointConfigName=FLIP, ProductionVariants=variants)
    sagemaker.create_endpoint(EndpointName=FLIP, EndpointConfigName=FLIP)
    if wait_in_service(sagemaker, time.perf_counter() + 120, 0.2) is None:
        raise SystemExit(f"bench: endpoint {FLIP} not InService within 120 s")
    body = args.body.read_bytes()
    urls = {name: url(r, FLIP) for name, r in routers.items()}
    clients = {name: httpx.Client(timeout=10) for name in routers}
    flips: list[Flip] = []
    with ThreadPoolExecutor(len(routers)) as pool, contextlib.ExitStack() as closing:
        for client in clients.values():
            closing.enter_context(client)
        for name in routers:  # both route A only before the first flip
            ready = probe(clients[name], urls[name], body, "A", time.perf_counter() + 30, args)
            if ready.first is None:
                raise SystemExit(f"bench: router {name} does not route {FLIP} to A alone")
        for i in range(args.flips):
            want = "B" if i % 2 == 0 else "A"
            say(progress, task, f"flip {i + 1} to {want}")
            weights = [{"VariantName": v, "DesiredWeight": float(v == want)} for v in ("A", "B")]
            version = db.plan(FLIP)[0]
            sent, sent_wall = time.perf_counter(), time.time()
            sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=FLIP, DesiredWeightsAndCapacities=weights
            )
            returned = time.perf_counter()
            deadline = sent + args.flip_timeout
            probes = {
                name: pool.submit(probe, clients[name], urls[name], body, want, deadline, args)
                for name in routers
            }
            in_service = wait_in_service(sagemaker, deadline, args.describe_every)
            probed = [run.result() for run in probes.values()]
            written, written_at = db.plan(FLIP)
            flips.append(
                Flip(
                    to=want,
                    call_ms=(returned - sent) * 1000,
                    seen_ms={
                        name: None if o.first is None else (o.first - sent) * 1000
                        for name, o in zip(probes, probed, strict=True)
                    },
                    in_service_ms=None if in_service is None else (in_service - sent) * 1000,
                    probes=sum(o.sent for o in probed),
                    probe_errors=sum(o.failed for o in probed),
                    probe_ms=sum(o.seconds for o in probed)
                    * 1000
                    / max(1, sum(o.sent for o in probed)),
                    plan_ms=(written_at - sent_wall) * 1000,
                    plans=written - version,
                )
            )
            progress.advance(task)
            # Not InService yet, the next call would be refused: wait a while longer.
            if (
                in_service is None
                and wait_in_service(sagemaker, time.perf_counter() + 60, 0.2) is None
            ):
                raise SystemExit(f"bench: endpoint {FLIP} not InService 60 s after flip {i}")
            time.sleep(args.flip_pause)
    return flips


# --- the report -----------------------------------------------------------------------
def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def throughput_report(points: list[Point], args: argparse.Namespace) -> list[str]:
    lines = [
        f"Throughput: {args.rounds} rounds, {args.duration:g} s per point, wrk -t1 per router "
        f"loaded, {os.cpu_count()} cores shared by wrk, routers, instances and PostgreSQL. "
        f"Medians over the rounds ((a): over its {args.rounds + 1} runs, one before each round "
        "and one after the last); (b)'s p50/p99 are the worse of its two routers'.",
        "",
        "| configuration | c | req/s | p50 ms | p99 ms | server CPU ms/req | store tx/s | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    idle = [p.store_tps for p in points if p.config == "idle"]
    lines.append(f"| {CONFIGS['idle']} | 0 | 0 | - | - | - | {median(idle):.1f} | 0 |")
    for c in args.concurrency:
        for config in ("a", "b", "c"):
            ps = [p for p in points if p.config == config and p.concurrency == c]
            lines.append(
                f"| {CONFIGS[config]} | {c} | {median([p.rps for p in ps]):.0f} "
                f"| {median([p.p50_ms for p in ps]):.2f} | {median([p.p99_ms for p in ps]):.2f} "
                f"| {median([p.cpu_ms_per_req for p in ps]):.3f} "
                f"| {median([p.store_tps for p in ps]):.1f} | {sum(p.failures for p in ps)} |"
            )
    lines += [
        "",
        "| ratio (median of within-round ratios; a round's (a) is the mean of the (a)s "
        "before and after it) | c | median | rounds |",
        "|---|---|---|---|",
    ]
    for c in args.concurrency:
        by = {(p.config, p.round): p for p in points if p.concurrency == c}
        for other in ("b", "c"):
            for what, attr in (
                ("req/s", "rps"),
                ("p50", "p50_ms"),
                ("p99", "p99_ms"),
                ("CPU/req", "cpu_ms_per_req"),
            ):
                # Round r's (a): the mean of the (a)s before and after its (b) and (c).
                ratios = [
                    getattr(by[(other, r)], attr)
                    / statistics.mean(getattr(by[("a", a)], attr) for a in (r, r + 1))
                    for r in range(1, args.rounds + 1)
                ]
                lines.append(
                    f"| ({other}) ÷ (a) {what} | {c} | {median(ratios):.2f} "
                    f"| {', '.join(f'{x:.2f}' for x in ratios)} |"
                )
        idle_c = [p for p in points if p.config == "c" and p.concurrency == c]
        for what, values in (
            (
                "idle r2's CPU during (c), % of one core (router + instance)",
                [p.idle_cpu_pct or 0.0 for p in idle_c],
            ),
            ("... of which its router process", [p.idle_router_pct or 0.0 for p in idle_c]),
        ):
            lines.append(
                f"| {what} | {c} | {median(values):.1f} | {', '.join(f'{x:.1f}' for x in values)} |"
            )
    return lines


def spread(values: list[float]) -> str:
    p50, p95, p99 = np.percentile(values, [50, 95, 99]) if values else (float("nan"),) * 3
    return f"{p50:.0f} | {p95:.0f} | {p99:.0f} | {max(values, default=float('nan')):.0f}"


def propagation_report(
    flips: list[Flip], routers: list[str], args: argparse.Namespace
) -> list[str]:
    def times(name: str) -> list[float]:
        return [t for f in flips if (t := f.seen_ms[name]) is not None]

    both = [t for f in flips if (t := f.both_ms) is not None]
    in_service = [t for f in flips if (t := f.in_service_ms) is not None]
    early = sum(
        1
        for f in flips
        if f.both_ms is not None and f.in_service_ms is not None and f.in_service_ms < f.both_ms
    )
    lines = [
        f"Propagation: {len(flips)} flips of UpdateEndpointWeightsAndCapacities (A=1,B=0 ↔ "
        f"A=0,B=1) sent to r1; ms from the call being sent to a router's first of "
        f"{args.streak} answers in a row from the new variant (probes one at a time per router, "
        f"{args.probe_pause * 1000:g} ms apart).",
        "",
        "| what | p50 ms | p95 ms | p99 ms | max ms | flips |",
        "|---|---|---|---|---|---|",
    ]
    for name in routers:
        role = " (controller; took the call)" if name == "r1" else ""
        lines.append(
            f"| {name}{role} routes by the new weights | {spread(times(name))} "
            f"| {len(times(name))} |"
        )
    lines += [
        f"| **both** route by the new weights | {spread(both)} | {len(both)} |",
        f"| the call returned | {spread([f.call_ms for f in flips])} | {len(flips)} |",
        f"| the controller wrote the plan (routing_plans.updated_at) "
        f"| {spread([f.plan_ms for f in flips])} | {len(flips)} |",
        f"| describe_endpoint says InService (polled every {args.describe_every * 1000:g} ms) "
        f"| {spread(in_service)} | {len(in_service)} |",
        "",
        f"Flips a router missed within {args.flip_timeout:g} s: {len(flips) - len(both)}; "
        f"InService before both routers switched: {early}; probes: "
        f"{sum(f.probes for f in flips)}, failed: {sum(f.probe_errors for f in flips)}, "
        f"median time per probe {median([f.probe_ms for f in flips]):.1f} ms (the resolution); "
        f"plan versions per flip: {sorted({f.plans for f in flips})}.",
    ]
    return lines


# --- running it -----------------------------------------------------------------------
def say(progress: Progress, task: Any, what: str) -> None:
    progress.update(task, description=what)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    options: list[tuple[str, type, object, str]] = [
        ("--rounds", int, 3, "throughput rounds of (a) (b) (c); 0: propagation only"),
        ("--duration", float, 10.0, "seconds of load per point"),
        ("--warmup", float, 2.0, "seconds of load before each (a) and after r2 starts"),
        ("--pause", float, 1.0, "seconds between points"),
        ("--flips", int, 50, "weight flips to time; 0: none"),
        ("--streak", int, 3, "answers in a row from the new variant that count as switched"),
        ("--probe-pause", float, 0.001, "seconds between a router's probes"),
        ("--describe-every", float, 0.05, "seconds between describe_endpoint polls in a flip"),
        ("--flip-timeout", float, 10.0, "seconds a flip may take to reach both and InService"),
        ("--flip-pause", float, 0.3, "seconds between flips"),
        ("--lease-seconds", float, 10.0, "the nodes' --lease-seconds, as turnout's own default"),
    ]
    for flag, kind, default, text in options:
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default {default:g})")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[16],
        help="total connections per point, comma-separated; (b) splits each over the two "
        "routers (default 16)",
    )
    parser.add_argument(
        "--postgres",
        default=POSTGRES,
        help="URL of a PostgreSQL database to create the bench database from (default "
        "$TURNOUT_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test)",
    )
    args = parser.parse_args()
    if args.rounds < 0 or args.duration <= 0 or args.flips < 0 or args.streak < 1:
        parser.error("--rounds ≥ 0, --streak ≥ 1, --duration > 0, --flips ≥ 0")
    if min(args.concurrency) < 2:
        parser.error("--concurrency: at least 2 connections (one per router in (b))")
    if (
        args.rounds * len(args.concurrency) * 3 * args.duration + args.flips * args.flip_timeout
        > 3600
    ):
        parser.error("that run could take over an hour: fewer --rounds, --flips or --duration")
    return args


def run(args: argparse.Namespace, work: Path, progress: Progress) -> tuple[str, str]:
    """The whole run: (the report, one JSON line per point and flip)."""
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        setup = progress.add_task("setup", total=None)
        say(progress, setup, "creating the bench database")
        db = stack.enter_context(database(args.postgres))
        say(progress, setup, "training the model")
        args.body = prepare(work)
        say(progress, setup, "starting r1")
        r1 = start_node("r1", work, db, args.lease_seconds)
        stack.callback(r1.stop)
        wait_until(
            lambda: nodes(r1.url).get("r1", {}).get("controller"), 30, "r1 holding the lease"
        )
        say(progress, setup, "deploying the endpoint bench on r1")
        check_answer(deploy(r1.url, work, 1), args.body.read_bytes())
        progress.update(setup, description="set up", total=1, completed=1)
        flips: list[Flip] = []
        points, r2_rss = (
            throughput(r1, work, db, stack, progress, args) if args.rounds else ([], 0.0)
        )
        if args.flips:
            say(progress, setup, "starting r2 for the flips")
            r2 = start_r2(r1, work, db, stack, args)
            flips = propagation({"r1": r1, "r2": r2}, db, progress, args)
            r2_rss = r2_rss or rss_mb(pid(r2))
        controller = next(n for n, node in nodes(r1.url).items() if node["controller"])
        header = (
            f"{time.strftime('%Y-%m-%d %H:%M')}, commit {commit()}, load average (1 min) "
            f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
            f"PostgreSQL database {db.name} (dropped); lease "
            f"{args.lease_seconds:g} s; controller at the end: {controller}; RSS of r2's tree "
            f"(router + 1 instance of bench): {r2_rss:.0f} MB"
        )
    sections = [header, "", *(throughput_report(points, args) if points else [])]
    if flips:
        sections += ["", *propagation_report(flips, ["r1", "r2"], args)]
    raw = [json.dumps(p.__dict__) for p in points] + [json.dumps(f.__dict__) for f in flips]
    return "\n".join(sections), "\n".join(raw)


def commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds the ExitStacks: every process stopped, the database dropped


def main() -> None:
    args = parse()
    ensure_wrk()
    signal.signal(signal.SIGTERM, interrupted)
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with (
            tempfile.TemporaryDirectory(prefix="turnout-scale-") as tmp,
            Progress(*columns, console=console) as progress,
        ):
            text, raw = run(args, Path(tmp), progress)
    except KeyboardInterrupt:
        raise SystemExit("bench: interrupted; every process it started is stopped") from None
    except (ClientError, BotoCoreError) as exc:
        raise SystemExit(f"bench: the SageMaker API refused: {exc}") from None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"bench: {exc.cmd[0]} failed ({exc.returncode}): {exc.stderr}") from None
    print("\n" + text)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (results / f"scale-out-{stamp}.md").write_text(text + "\n\n```\n" + raw + "\n```\n")


if __name__ == "__main__":
    main()
