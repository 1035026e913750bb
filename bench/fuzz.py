"""The fuzz tests (tests/fuzz) in their long mode, with a summary at the end.

Many more cases per operation than CI's 12; the cases, findings and time of the run.

    .venv/bin/python bench/fuzz.py                  # 1,000 cases per operation
    .venv/bin/python bench/fuzz.py 5000 --seed 7    # another sequence than CI's

Exits 1 if any run found something (its findings are printed by pytest above the summary).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

# What each fuzz test prints: "N finding(s) in M cases:"
_REPORT = re.compile(r"(\d+) finding\(s\) in (\d+) cases")
_TEST = re.compile(r"^(tests/fuzz/\S+::\S+)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("examples", type=int, nargs="?", default=1000, help="cases per operation")
    parser.add_argument("--seed", type=int, help="another sequence than the derandomized one")
    args = parser.parse_args()
    env = {**os.environ, "TURNOUT_FUZZ_EXAMPLES": str(args.examples)}
    if args.seed is not None:
        env["TURNOUT_FUZZ_SEED"] = str(args.seed)
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/fuzz", "-p", "no:randomly", "-s", "-v",
         "-o", "timeout=0", "--ignore", "tests/fuzz/test_fuzzers_catch.py"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    print(run.stdout[-20_000:], run.stderr[-5_000:], sep="\n")
    cases = findings = 0
    for line in run.stdout.splitlines():
        if match := _REPORT.search(line):
            findings += int(match[1])
            cases += int(match[2])
    took = time.monotonic() - started
    print(f"fuzz: {cases} cases, {findings} findings, {took:.0f} s, pytest exit {run.returncode}")
    return 0 if run.returncode == 0 and findings == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
