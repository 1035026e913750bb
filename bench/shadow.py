"""What a slow shadow variant costs production: p99 with a shadow that sleeps 2 s per request
against the same production variant without one, in one run.

    .venv/bin/python bench/shadow.py [--rounds 3] [--duration 10] [--concurrency 8]
                                     [--shadow-sleep 2]

One `turnout serve` (SQLite in a temp dir) with two endpoints on the same model (a digits
LogisticRegression trained on the spot, served by a code/inference.py so that the shadow
can sleep): `plain` (production only) and `mirrored` (production plus a shadow variant of
weight 1, i.e. every request mirrored, whose model sleeps --shadow-sleep seconds per
request). Each round loads `plain` and `mirrored` (which goes first alternates) with wrk
(-t1 -c C, same body as routed.py); the ratio mirrored/plain of p50, p99 and req/s is taken
within each round and the median over rounds reported. Copies the shadow cannot take (its
lane holds 512 and 8 are in flight) are dropped and counted: the count and the shadow's
invocations are printed.

Everything binds 127.0.0.1 and is stopped at the end (by the server's PID).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

import joblib
from routed import ensure_wrk, run_wrk
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from turnout.cli.background import BackgroundServer
from turnout.client import Client, Variant

INFERENCE = """
import json, os, time
import joblib
import numpy as np

SLEEP = {sleep}

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def input_fn(body, content_type):
    rows = np.asarray(json.loads(body), dtype=np.float64)
    return rows.reshape(1, -1) if rows.ndim == 1 else rows

def predict_fn(rows, model):
    if SLEEP:
        time.sleep(SLEEP)
    return model.predict(rows)

def output_fn(prediction, accept):
    return json.dumps(np.asarray(prediction).tolist()), "application/json"
"""


def model_dir(root: Path, name: str, sleep: float) -> Path:
    directory = root / name
    (directory / "code").mkdir(parents=True)
    x, y = load_digits(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=2000).fit(x, y), directory / "model.joblib")
    (directory / "code" / "inference.py").write_text(
        textwrap.dedent(INFERENCE).replace("{sleep}", repr(sleep))
    )
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--shadow-sleep", type=float, default=2.0)
    args = parser.parse_args()
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="turnout-shadow-bench-") as tmp:
        root = Path(tmp)
        body = root / "body.json"
        body.write_text(json.dumps([float(v) for v in load_digits().data[8]]))
        with BackgroundServer(root / "serve") as server, Client(server.url, timeout=60) as c:
            c.create_model("fast", str(model_dir(root, "fast", 0.0)))
            c.create_model("sleepy", str(model_dir(root, "sleepy", args.shadow_sleep)))
            c.create_endpoint_config("plain", [Variant("A", "fast")])
            c.create_endpoint_config(
                "mirrored", [Variant("A", "fast")], shadow_variants=[Variant("S", "sleepy")]
            )
            for name in ("plain", "mirrored"):
                c.create_endpoint(name, name)
                c.wait_for_endpoint(name)
            ratios: dict[str, list[float]] = {"p50": [], "p99": [], "rps": []}
            for round_ in range(1, args.rounds + 1):
                seen = {}
                order = ("plain", "mirrored") if round_ % 2 else ("mirrored", "plain")
                for name in order:  # alternated: neither goes first every time
                    url = f"{server.url}/endpoints/{name}/invocations"
                    r = run_wrk(url, args.concurrency, args.duration, body)
                    failures = r["non2xx"] + r["socket_errors"]
                    rps = r["requests"] / (r["duration_us"] / 1e6)
                    seen[name] = (r["p50_us"] / 1000, r["p99_us"] / 1000, rps)
                    print(
                        f"round {round_} {name:8} {rps:7.0f} req/s  p50 {seen[name][0]:.2f} ms"
                        f"  p99 {seen[name][1]:.2f} ms  failures {failures}",
                        flush=True,
                    )
                for i, key in enumerate(("p50", "p99", "rps")):
                    ratios[key].append(seen["mirrored"][i] / seen["plain"][i])
                time.sleep(1.0)
            time.sleep(3.0)  # the last tallies flushed
            (found,) = c.shadow_reports("mirrored", since=3600)
            summary = c.metrics_summary("mirrored", since=3600)
            shadow_calls = next(
                v["metrics"]["Invocations"]["Sum"] for v in summary["variants"] if v["shadow"]
            )
    print()
    for key in ("p50", "p99", "rps"):
        values = ", ".join(f"{v:.2f}" for v in ratios[key])
        print(f"mirrored/plain {key:3}: median {statistics.median(ratios[key]):.2f} ({values})")
    print(
        f"shadow: {shadow_calls:.0f} copies answered, {found['dropped']} dropped "
        f"(lane full), p50 {found['shadow']['p50_ms']} ms"
    )


if __name__ == "__main__":
    main()
