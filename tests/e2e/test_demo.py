"""`turnout demo --exit` runs the seed's scenario to its end: two tables, the first split
near 50/50 and the second near 90/10 (binomial 99.9% bounds), then an A/B experiment whose
report names B (20% conversion) over A (10%), exit status 0, and no process left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from scipy.stats import binom

from tests.support.processes import SeenProcess, still_alive

pytestmark = pytest.mark.e2e

REQUESTS = 300
TIMEOUT = 300  # training, serving and 2 x 300 requests take seconds; this bounds a hang
# "300 requests at A 0.5 / B 0.5" above each table; rows like "│ A │ digits-a │ 147 │ 49.0% │"
TITLE = re.compile(r"(\d+) requests at ((?:\w+ [\d.]+(?: / )?)+)\s*$")
ROW = re.compile(r"^\s*[│|]\s*(\w+)\s*[│|]\s*[\w-]+\s*[│|]\s*(\d+)\s*[│|]\s*([\d.]+)%")


@dataclass
class Table:
    requests: int
    weights: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)


def tables_in(output: str) -> list[Table]:
    tables: list[Table] = []
    for line in output.splitlines():
        if title := TITLE.search(line):
            pairs = (pair.split() for pair in title.group(2).split(" / "))
            tables.append(Table(int(title.group(1)), {k: float(v) for k, v in pairs}))
        elif tables and (row := ROW.match(line)):
            tables[-1].counts[row.group(1)] = int(row.group(2))
            tables[-1].shares[row.group(1)] = float(row.group(3))
    return tables


def run_demo(data_dir: Path) -> tuple[subprocess.CompletedProcess[str], set[SeenProcess]]:
    """Run the demo to its end, noting every process it starts along the way."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS")}
    env.update(NO_COLOR="1", COLUMNS="200", PYTHONIOENCODING="utf-8")
    argv = [
        sys.executable, "-m", "turnout.cli.main", "demo", "--exit",
        "--requests", str(REQUESTS), "--port", "0", "--data-dir", str(data_dir),
    ]  # fmt: skip
    out, err = data_dir.with_suffix(".out"), data_dir.with_suffix(".err")
    seen: set[SeenProcess] = set()
    with out.open("w") as stdout, err.open("w") as stderr:
        demo = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env, text=True)
        deadline = time.monotonic() + TIMEOUT
        try:
            parent = psutil.Process(demo.pid)
            while demo.poll() is None:
                if time.monotonic() > deadline:
                    pytest.fail(f"turnout demo still running after {TIMEOUT} s")
                try:
                    children = parent.children(recursive=True)
                    seen |= {SeenProcess(c.pid, c.create_time()) for c in children}
                except psutil.NoSuchProcess:
                    pass
                time.sleep(0.2)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
    done = subprocess.CompletedProcess(argv, demo.returncode, out.read_text(), err.read_text())
    return done, seen


def assert_within_binomial(table: Table, variant: str) -> None:
    served = sum(table.counts.values())
    p = table.weights[variant] / sum(table.weights.values())
    low, high = binom.interval(0.999, served, p)
    assert low <= table.counts[variant] <= high, (
        f"{variant} got {table.counts[variant]} of {served} at p={p}; 99.9%: [{low}, {high}]"
    )


def test_demo_runs_to_its_tables(tmp_path: Path) -> None:
    done, seen = run_demo(tmp_path / "demo")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr

    first, second = tables_in(done.stdout)
    for table in (first, second):
        assert table.requests == REQUESTS
        assert set(table.counts) == {"A", "B"}, done.stdout
        assert sum(table.counts.values()) == REQUESTS  # no request failed
        assert sum(table.shares.values()) == pytest.approx(100, abs=0.2)
    assert first.weights == {"A": 0.5, "B": 0.5}
    assert_within_binomial(first, "A")
    assert sorted(second.weights.values()) == [0.1, 0.9]
    favourite = max(second.weights, key=lambda v: second.weights[v])
    assert_within_binomial(second, favourite)

    # The A/B part: sticky simulated users, their conversions as feedback, a winner.
    output = " ".join(done.stdout.split())  # Rich wraps long lines at the terminal width
    assert "A/B experiment" in output
    assert "decision: B wins on converted" in output, done.stdout[-3000:]

    # The child server and its instances were started, and are all gone now.
    assert len(seen) >= 3, seen  # turnout serve and one instance per variant at least
    left = still_alive(seen, timeout=10)
    assert not left, f"left running: {left}"
