"""Routed path vs. one instance vs. a bare single-process app, in one run.

    python3 dev.py bench [--duration 10] [--concurrency 1,8,64] [--systems ...] [--rounds N]

Systems (same model and the same one-row JSON body; --model lr, a digits
LogisticRegression, or rf, a RandomForest of 100 trees whose per-call cost batching amortizes):
  bare     Starlette + uvicorn, predict in-process: the baseline the issue compares with
  instance turnout's worker alone on TCP (no router): what an instance costs by itself
  routed   client -> turnout serve (router) -> one instance over a Unix socket
  routed2  the same with two instances behind the variant
  routed-nobatch  routed with adaptive batching off (TURNOUT_MAX_BATCH_SIZE=1): what
           batching costs at c=1 and gives under load, in the same build
  routed-capture  routed, with data capture of every invocation (100%) to a local directory
  routed2-noeject  routed2 with outlier ejection off (--outlier-max-ejection-percent 0):
           what tracking latencies and failures per instance costs (ADR 0034)

Load: wrk (Debian package `wrk`), one thread, on the same 2 cores as the servers. Reports
req/s, p50/p99 latency, server CPU per request and RSS of the server's process tree, and
the ratios the issue asks for. Results also go to bench/results/<timestamp>.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
import psutil
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
ALL_SYSTEMS = ("bare", "instance", "routed", "routed2", "routed-nobatch", "routed-capture",
               "routed2-noeject")  # fmt: skip
ROW = 8  # digits row 8 is an "8"


@dataclass
class Point:
    system: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_req: float
    rss_mb: float
    failures: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 1024 / 1024


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.1)
    raise SystemExit(f"bench: {what} not ready within {timeout:.0f} s")


@contextlib.contextmanager
def started(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def system_argv(name: str, work: Path, port: int) -> list[str]:
    py = sys.executable
    if name == "bare":
        return [py, str(HERE / "bare_app.py"), "--model", str(work / "model" / "model.joblib"),
                "--port", str(port)]  # fmt: skip
    if name == "instance":
        return [py, "-m", "turnout.instances.worker", "--model-dir", str(work / "model"),
                "--flavor", "sklearn", "--bind", f"tcp:127.0.0.1:{port}"]  # fmt: skip
    off = ["--outlier-max-ejection-percent", "0"] if name == "routed2-noeject" else []
    return [py, "-m", "turnout.cli.main", "serve", "--port", str(port),
            "--data-dir", str(work / f"data-{name}"), *off]  # fmt: skip


def deploy(
    base: str, work: Path, instances: int, capture: bool = False, batching: bool = True
) -> str:
    """Register the model and an endpoint through the native API; returns the invoke URL.

    With `capture`, the endpoint config captures every invocation (input and output, as
    JSON text) under <work>/capture; without `batching`, the model's instances predict
    one request per call."""
    config: dict[str, object] = {"name": "bench", "variants": [
        {"name": "AllTraffic", "model": "bench", "instance_count": instances}]}  # fmt: skip
    if capture:
        config["data_capture"] = {"destination": str(work / "capture"), "sampling_percentage": 100,
                                  "json_content_types": ["application/json"]}  # fmt: skip
    environment = {} if batching else {"TURNOUT_MAX_BATCH_SIZE": "1"}
    model = {"name": "bench", "artifact": str(work / "model"), "environment": environment}
    with httpx.Client(base_url=base, timeout=30) as api:
        for path, body in (
            ("/api/v1/models", model),
            ("/api/v1/endpoint-configs", config),
            ("/api/v1/endpoints", {"name": "bench", "config": "bench"}),
        ):
            api.post(path, json=body).raise_for_status()
        wait_until(
            lambda: api.get("/api/v1/endpoints/bench").json()["status"] == "InService",
            120,
            "endpoint",
        )
    return f"{base}/endpoints/bench/invocations"


def ensure_wrk() -> None:
    """wrk comes from Debian's package; as root, install it when it is missing."""
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing wrk (apt-get install wrk) ...", flush=True)
        for step in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"]):
            if subprocess.run(step, capture_output=True, check=False).returncode == 0 and (
                shutil.which("wrk")
            ):
                return
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False)
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed; install it with: sudo apt-get install wrk")


def run_wrk(url: str, concurrency: int, duration: float, body: Path) -> dict[str, int]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration:g}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "post.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_BODY": str(body)},
        check=True,
    )
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("BENCH "))
    result: dict[str, int] = json.loads(line[len("BENCH ") :])
    return result


@contextlib.contextmanager
def serving(name: str, work: Path, body: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The system running and answering correctly: (its process, the invoke URL)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with started(system_argv(name, work, port), work / f"{name}.log") as proc:
        if name.startswith("routed"):
            wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 60, name)
            instances = 2 if name.startswith("routed2") else 1
            url = deploy(base, work, instances, name == "routed-capture",
                         batching=name != "routed-nobatch")  # fmt: skip
        else:
            wait_until(lambda: httpx.get(f"{base}/ping").status_code == 200, 60, name)
            url = f"{base}/invocations"
        answer = httpx.post(
            url, content=body.read_bytes(), headers={"content-type": "application/json"}
        )
        if answer.status_code != 200 or answer.json() != [8]:
            raise SystemExit(f"bench: {name} answered {answer.status_code} {answer.text[:200]}")
        yield proc, url


def point(name: str, pid: int, url: str, c: int, duration: float, body: Path) -> Point:
    cpu0 = cpu_seconds(pid)
    r = run_wrk(url, c, duration, body)
    cpu = cpu_seconds(pid) - cpu0
    p = Point(
        system=name,
        concurrency=c,
        rps=r["requests"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        cpu_ms_per_req=cpu * 1000 / max(r["requests"], 1),
        rss_mb=rss_mb(pid),
        failures=r["non2xx"] + r["socket_errors"],
    )
    print(f"  {name:9} c={c:<3} {p.rps:8.0f} req/s  p50 {p.p50_ms:.3f} ms", flush=True)
    return p


def measure(name: str, work: Path, body: Path, args: argparse.Namespace) -> list[Point]:
    points = []
    with serving(name, work, body) as (proc, url):
        run_wrk(url, 8, args.warmup, body)
        for c in args.concurrency:
            points.append(point(name, proc.pid, url, c, args.duration, body))
            time.sleep(args.pause)
    report_captured(name, work)
    return points


def measure_interleaved(
    names: list[str], work: Path, body: Path, args: argparse.Namespace
) -> list[Point]:
    """All systems up at once, measured in turn `--rounds` times per concurrency: on a
    machine others are using, each system sees the same background load. Per system and
    concurrency, the round with the median req/s is reported (failures summed)."""
    with contextlib.ExitStack() as stack:
        running = {name: stack.enter_context(serving(name, work, body)) for name in names}
        for _, url in running.values():
            run_wrk(url, 8, args.warmup, body)
        points = []
        for c in args.concurrency:
            rounds: dict[str, list[Point]] = {name: [] for name in names}
            for _ in range(args.rounds):
                for name, (proc, url) in running.items():
                    rounds[name].append(point(name, proc.pid, url, c, args.duration, body))
                    time.sleep(args.pause)
            for measured in rounds.values():
                median = sorted(measured, key=lambda p: p.rps)[len(measured) // 2]
                median.failures = sum(p.failures for p in measured)
                points.append(median)
    for name in names:
        report_captured(name, work)
    return points


def report_captured(name: str, work: Path) -> None:
    if name == "routed-capture":  # the server has stopped: its writer wrote all it took
        lines = sum(p.read_bytes().count(b"\n") for p in (work / "capture").rglob("*.jsonl"))
        print(f"  {name:9} {lines} records captured", flush=True)


def report(points: list[Point], args: argparse.Namespace) -> str:
    lines = [
        f"model {args.model}, duration {args.duration:g} s per point, warm-up {args.warmup:g} s, "
        f"wrk -t1, {os.cpu_count()} cores, body: one digits row as JSON",
        "",
        "| system | c | req/s | p50 ms | p99 ms | server CPU ms/req | RSS MB | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p.system} | {p.concurrency} | {p.rps:.0f} | {p.p50_ms:.3f} | {p.p99_ms:.3f} | "
            f"{p.cpu_ms_per_req:.3f} | {p.rss_mb:.0f} | {p.failures} |"
        )
    by = {(p.system, p.concurrency): p for p in points}
    lines += ["", "| ratio | c | value |", "|---|---|---|"]
    for c in args.concurrency:
        bare = by.get(("bare", c))
        for name in ("routed", "routed2"):
            routed = by.get((name, c))
            if bare and routed:
                lines.append(f"| {name} req/s ÷ bare req/s | {c} | {routed.rps / bare.rps:.0%} |")
                lines.append(
                    f"| {name} p50 minus bare p50 | {c} "
                    f"| {(routed.p50_ms - bare.p50_ms) * 1000:.0f} µs |"
                )
        routed, unbatched = by.get(("routed", c)), by.get(("routed-nobatch", c))
        if routed and unbatched:  # what adaptive batching costs (c=1) and gives (under load)
            lines.append(
                f"| routed p50 minus routed-nobatch p50 | {c} "
                f"| {(routed.p50_ms - unbatched.p50_ms) * 1000:+.0f} µs |"
            )
            lines.append(
                f"| routed req/s ÷ routed-nobatch req/s | {c} | {routed.rps / unbatched.rps:.0%} |"
            )
        # what capturing every invocation costs, and what outlier detection costs
        for with_it, without in (("routed-capture", "routed"), ("routed2", "routed2-noeject")):
            a, b = by.get((with_it, c)), by.get((without, c))
            if a and b:
                lines.append(f"| {with_it} req/s ÷ {without} req/s | {c} | {a.rps / b.rps:.0%} |")
                lines.append(
                    f"| {with_it} CPU/req ÷ {without} CPU/req | {c} "
                    f"| {a.cpu_ms_per_req / b.cpu_ms_per_req:.0%} |"
                )
    return "\n".join(lines)


def prepare(work: Path, model: str = "lr") -> Path:
    """Train the model on the spot into <work>/model/model.joblib (`lr` or `rf`); returns
    the request body, <work>/row.json: digits row ROW as one JSON row (the answer is [8])."""
    (work / "model").mkdir()
    x, y = load_digits(return_X_y=True)
    estimator = (
        LogisticRegression(max_iter=2000)
        if model == "lr"
        else RandomForestClassifier(n_estimators=100, random_state=0)
    )
    joblib.dump(estimator.fit(x, y), work / "model" / "model.joblib")
    body = work / "row.json"
    body.write_text(json.dumps([float(v) for v in x[ROW]]))
    return body


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per point")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at c=8 before measuring")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between points")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 8, 64])  # fmt: skip
    parser.add_argument("--systems", type=lambda s: s.split(","), default=list(ALL_SYSTEMS))
    parser.add_argument("--model", choices=("lr", "rf"), default="lr",
                        help="lr: LogisticRegression; rf: RandomForest, 100 trees")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=0,
                        help="run all systems at once, measured in turn N times per point "
                        "(median reported): fairer on a machine others are using")  # fmt: skip
    args = parser.parse_args()
    ensure_wrk()
    unknown = set(args.systems) - set(ALL_SYSTEMS)
    if unknown:
        raise SystemExit(f"bench: unknown systems {sorted(unknown)}; choose from {ALL_SYSTEMS}")

    with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp:
        work = Path(tmp)
        body = prepare(work, args.model)
        points: list[Point] = []
        if args.rounds:
            print(f"bench: {', '.join(args.systems)} interleaved, {args.rounds} rounds", flush=True)
            points = measure_interleaved(args.systems, work, body, args)
        for name in args.systems if not args.rounds else ():
            print(f"bench: {name}", flush=True)
            points += measure(name, work, body, args)
    text = report(points, args)
    print("\n" + text)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / time.strftime("%Y%m%d-%H%M%S.md")).write_text(text + "\n")


if __name__ == "__main__":
    main()
