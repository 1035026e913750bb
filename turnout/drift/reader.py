"""Reading one variant's capture files of a time window (I/O; run it in a thread).

Files live under <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/ (turnout.capture.files);
only the hour folders the window touches are listed, and a record counts when its
inferenceTime is inside the window. Local destinations only: S3 ones are skipped.
"""

from __future__ import annotations

import calendar
import json
import time
from pathlib import Path

from turnout.capture.destination import parse_destination
from turnout.capture.files import hour_folder

MAX_LINES = 100_000  # per variant and window: the newest files are read first


def _epoch(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))


def variants(destination: str, endpoint: str) -> list[str]:
    dest = parse_destination(destination)
    if dest.path is None:
        return []
    root = dest.path / endpoint
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def lines(destination: str, endpoint: str, variant: str, since: float, until: float) -> list[bytes]:
    """The capture lines of `variant` with inferenceTime in [since, until], at most MAX_LINES."""
    dest = parse_destination(destination)
    if dest.path is None:
        return []
    hours = sorted({hour_folder(t) for t in _hours(since, until)}, reverse=True)
    found: list[bytes] = []
    for hour in hours:
        folder = Path(dest.path, endpoint, variant, hour)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.jsonl"), reverse=True):
            with path.open("rb") as lines_of_file:  # line by line: an hour's file may be big
                for line in lines_of_file:
                    if _inside(line, since, until):
                        found.append(line.rstrip(b"\n"))
                        if len(found) >= MAX_LINES:
                            return found
    return found


def _hours(since: float, until: float) -> list[float]:
    start = since - since % 3600
    return [start + i * 3600 for i in range(int((until - start) // 3600) + 1)][
        -48:
    ]  # the newest two days at most


def _inside(line: bytes, since: float, until: float) -> bool:
    try:
        at = _epoch(json.loads(line)["eventMetadata"]["inferenceTime"])
    except (ValueError, KeyError, TypeError):
        return False
    return since - 1 <= at <= until  # inferenceTime is to the second
