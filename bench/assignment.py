"""Sticky assignment vs. the router's random weighted choice, per request, in one run.

    .venv/bin/python bench/assignment.py [--keys 200000] [--repeat 5]

For 2, 5 and 10 variants it times, per call (best of --repeat passes over the same keys):
  weighted   WeightedChoice.pick(random()): the non-sticky baseline (alias method, O(1))
  hashed     one blake2b of the key, then WeightedChoice.pick: sticky, but not monotone
  sticky     StickyAssignment.assign(key): weighted rendezvous, one blake2b per variant
Single-threaded pure Python, timed in this process's CPU time so that other work on the
machine disturbs the figures less; they are for comparing the rows, not absolute.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from collections.abc import Callable

from turnout.routing.assignment import StickyAssignment
from turnout.routing.choice import WeightedChoice


def best_ns_per_call(call: Callable[[str], object], keys: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time_ns()
        for key in keys:
            call(key)
        best = min(best, (time.process_time_ns() - start) / len(keys))
    return best


def contenders(variants: int) -> dict[str, Callable[[str], object]]:
    names = [f"variant-{i}" for i in range(variants)]
    weights = [float(i + 1) for i in range(variants)]
    choice = WeightedChoice(names, weights)
    sticky = StickyAssignment("endpoint-salt", dict(zip(names, weights, strict=True)))
    draw = random.Random(1).random

    def hashed(key: str) -> object:
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return choice.pick((int.from_bytes(digest, "big") >> 11) * 2.0**-53)

    return {
        "weighted": lambda _key: choice.pick(draw()),
        "hashed": hashed,
        "sticky": sticky.assign,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    keys = [f"user-{i}" for i in range(args.keys)]
    print(f"{'variants':>8} {'weighted':>10} {'hashed':>10} {'sticky':>10}  (ns per call)")
    for variants in (2, 5, 10):
        row = {
            name: best_ns_per_call(call, keys, args.repeat)
            for name, call in contenders(variants).items()
        }
        cells = " ".join(f"{row[name]:>10.0f}" for name in ("weighted", "hashed", "sticky"))
        print(f"{variants:>8} {cells}")


if __name__ == "__main__":
    main()
