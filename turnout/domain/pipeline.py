"""How an inference pipeline's instance reports each container's time to the router
(ADR 0039): one answer header, `name=µs,name=µs` in the containers' order."""

from __future__ import annotations

from collections.abc import Sequence

TIMINGS_HEADER = b"x-turnout-pipeline-us"


def format_timings(names: Sequence[str], micros: Sequence[float]) -> bytes:
    return ",".join(f"{n}={us:.1f}" for n, us in zip(names, micros, strict=True)).encode()


def parse_timings(value: bytes) -> list[tuple[str, float]]:
    """The header's (name, µs) pairs; malformed items are skipped (it is only a metric)."""
    found: list[tuple[str, float]] = []
    for item in value.decode("latin-1").split(","):
        name, _, us = item.rpartition("=")
        try:
            micros = float(us)
        except ValueError:
            continue
        if name and 0 <= micros < float("inf"):  # NaN fails the comparison too
            found.append((name, micros))
    return found


def describe_step(index: int, name: str) -> str:
    """How an error names a container: its position (from 1), and its hostname when given."""
    position = f"container {index + 1}"
    return position if name == f"container{index + 1}" else f"{position} ({name})"
