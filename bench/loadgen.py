"""The load generator's own ceiling: `turnout loadtest`'s generator vs wrk, against the bare
app, in one run.

    .venv/bin/python bench/loadgen.py [--duration 5] [--concurrency 8,64] [--rounds 3]

Both clients drive the same bare app (bench/bare_app.py: Starlette + uvicorn, predict
in-process; the baseline of routed.py) with the same one-row JSON body at the same
concurrency (closed loop), in turn, `--rounds` times (the median is reported). wrk (C, one
thread) is the reference for a client that is never the bottleneck. Besides req/s and
latency, each client's own CPU per request is measured (wrk: this process's children;
the generator: this process, which runs nothing else meanwhile), so its ceiling on one core
is 1000 / (client CPU ms/req) whatever the server: the generator is not the bottleneck as
long as that is well above what the system under test answers. Results also go to
bench/results/loadgen-<timestamp>.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from routed import (
    cpu_seconds,
    ensure_wrk,
    free_port,
    prepare,
    run_wrk,
    started,
    system_argv,
    wait_until,
)

from turnout.loadtest.data import RequestData
from turnout.loadtest.generator import Generator
from turnout.loadtest.requests import RequestHeads, Target
from turnout.loadtest.run import run_generator
from turnout.loadtest.series import summarize
from turnout.loadtest.shape import Mode, Segment, Shape

HERE = Path(__file__).resolve().parent


@dataclass
class Point:
    client: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms: float  # per request
    server_cpu_ms: float  # per request
    failures: int


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk_point(url: str, pid: int, c: int, duration: float, body: Path) -> Point:
    client0, server0 = children_cpu(), cpu_seconds(pid)
    r = run_wrk(url + "/invocations", c, duration, body)
    client, server = children_cpu() - client0, cpu_seconds(pid) - server0
    n = max(r["requests"], 1)
    return Point(
        "wrk",
        c,
        r["requests"] / (r["duration_us"] / 1e6),
        r["p50_us"] / 1000,
        r["p99_us"] / 1000,
        1000 * client / n,
        1000 * server / n,
        r["non2xx"] + r["socket_errors"],
    )


def generator_point(port: int, pid: int, c: int, duration: float, body: bytes) -> Point:
    data = RequestData((body,), "application/json", "row.json")
    heads = RequestHeads(Target("127.0.0.1", port, "bare", raw_path="/invocations"), data)
    shape = Shape(Mode.concurrency, (Segment(c, c, duration),))
    generator = Generator(heads, shape, timeout=10.0)
    client0, server0 = time.process_time(), cpu_seconds(pid)
    outcome = run_generator(generator)
    client, server = time.process_time() - client0, cpu_seconds(pid) - server0
    s = summarize(outcome.series.seconds, outcome.seconds)
    n = max(s.answered + s.failed, 1)
    return Point(
        "turnout loadtest",
        c,
        s.throughput,
        s.p("p50") or 0.0,
        s.p("p99") or 0.0,
        1000 * client / n,
        1000 * server / n,
        s.failed,
    )


def median_point(points: list[Point]) -> Point:
    def med(attr: str) -> float:
        return statistics.median(getattr(p, attr) for p in points)

    first = points[0]
    return Point(
        first.client,
        first.concurrency,
        med("rps"),
        med("p50_ms"),
        med("p99_ms"),
        med("client_cpu_ms"),
        med("server_cpu_ms"),
        sum(p.failures for p in points),
    )


def report(points: list[Point], args: argparse.Namespace) -> str:
    lines = [
        f"bare app, {os.cpu_count()} cores, {args.duration:g} s per point, median of "
        f"{args.rounds} rounds, one digits row as JSON",
        "",
        "| client | c | req/s | p50 ms | p99 ms | client CPU ms/req | client ceiling req/s "
        "per core | server CPU ms/req | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        ceiling = 1000 / p.client_cpu_ms if p.client_cpu_ms > 0 else float("inf")
        lines.append(
            f"| {p.client} | {p.concurrency} | {p.rps:.0f} | {p.p50_ms:.3f} | {p.p99_ms:.3f} | "
            f"{p.client_cpu_ms:.3f} | {ceiling:,.0f} | {p.server_cpu_ms:.3f} | {p.failures} |"
        )
    lines += [
        "",
        "| ratio | " + " | ".join(f"c={c}" for c in args.concurrency) + " |",
        "|---|" + "---|" * len(args.concurrency),
    ]
    by = {(p.client, p.concurrency): p for p in points}
    ratios = [
        f"{by[('turnout loadtest', c)].rps / by[('wrk', c)].rps:.0%}" for c in args.concurrency
    ]
    lines.append("| turnout loadtest req/s ÷ wrk req/s | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument(
        "--concurrency", default="8,64", type=lambda s: [int(c) for c in s.split(",")]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    if not (0 < args.duration <= 60 and 1 <= args.rounds <= 10):
        parser.error("--duration within (0, 60], --rounds within 1..10")
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp:
        work = Path(tmp)
        body = prepare(work)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with started(system_argv("bare", work, port), work / "bare.log") as proc:
            wait_until(lambda: httpx.get(url + "/ping").status_code == 200, 30, "bare app")
            run_wrk(url + "/invocations", 8, args.warmup, body)
            raw: dict[tuple[str, int], list[Point]] = {}
            for round_ in range(args.rounds):
                for c in args.concurrency:
                    for point in (
                        wrk_point(url, proc.pid, c, args.duration, body),
                        generator_point(port, proc.pid, c, args.duration, body.read_bytes()),
                    ):
                        raw.setdefault((point.client, c), []).append(point)
                        print(f"round {round_ + 1}: {point}", flush=True)
    points = [
        median_point(raw[(client, c)])
        for c in args.concurrency
        for client in ("wrk", "turnout loadtest")
    ]
    text = report(points, args)
    print(text)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / f"loadgen-{time.strftime('%Y%m%d-%H%M%S')}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
