"""The capture files: SageMaker's layout, and appending a batch of lines to one of them.

    <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl

(UTC; the file name is the minute, second and millisecond of its first record.) A file
holds whole lines: a write that fails half-way is cut back to where it started.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

# Appends bytes to the file at a path, creating it and its directories; raises OSError.
Append = Callable[[str, bytes], None]


def hour_folder(at: float) -> str:
    return time.strftime("%Y/%m/%d/%H", time.gmtime(at))


def file_name(at: float, unique: str | None = None) -> str:
    millis = int(at * 1000) % 1000
    return f"{time.strftime('%M-%S', time.gmtime(at))}-{millis:03d}-{unique or uuid.uuid4()}.jsonl"


@dataclass
class Segment:
    """The file one variant's records go to now (relative to the destination)."""

    path: PurePosixPath
    hour: int  # whole hours since the epoch: a new hour starts a new file
    opened_at: float
    size: int = 0


def new_segment(endpoint: str, variant: str, at: float) -> Segment:
    path = PurePosixPath(endpoint, variant, hour_folder(at), file_name(at))
    return Segment(path, int(at // 3600), at)


def append(path: str, data: bytes) -> None:
    """Append `data` to `path` (O_APPEND), creating directories as needed; whole or nothing."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            with contextlib.suppress(OSError):  # no half line left behind (ENOSPC mid-write)
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)
