"""An instance's output, written to its log file with each line prefixed by the time it
arrived: `2026-12-03T19:00:50.123Z <line>` (UTC, milliseconds).

The instance writes to a pipe; a thread of the process that spawned it (never the event
loop) copies the pipe into the file. The reader lives apart from the instance, so nothing
the instance wrote is lost when it crashes: the thread ends at end of file, once every
process holding the pipe has exited. CloudWatch Logs' view (turnout/api/logs) reads the
times back with `parse`; ADR 0028.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

CHUNK = 64 * 1024
_STAMP = re.compile(rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z ")
STAMP_BYTES = len(b"2026-12-03T19:00:50.123Z ")


def stamp(epoch_ms: int) -> bytes:
    """The prefix of a line that arrived at `epoch_ms`."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, UTC)
    return b"%s.%03dZ " % (moment.strftime("%Y-%m-%dT%H:%M:%S").encode(), epoch_ms % 1000)


def parse(line: bytes) -> tuple[int | None, bytes]:
    """(epoch ms, the line without its prefix); (None, line) for a line without one (written
    before turnout stamped lines, or by something else)."""
    match = _STAMP.match(line)
    if match is None:
        return None, line
    year, month, day, hour, minute, second, millis = (int(g) for g in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # looks like a stamp but is no date: the line's own text
        return None, line
    return int(moment.timestamp()) * 1000 + millis, line[STAMP_BYTES:]


def stamp_lines(data: bytes, at_line_start: bool, prefix: bytes) -> tuple[bytes, bool]:
    """`data` with `prefix` before every line that starts in it; and whether the next
    chunk starts a line (`at_line_start` says whether this one does)."""
    pieces = data.split(b"\n")
    out = bytearray()
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        if last and not piece:  # data ended with a newline
            break
        if at_line_start or i > 0:
            out += prefix
        out += piece
        if not last:
            out += b"\n"
    return bytes(out), data.endswith(b"\n") if data else at_line_start


class Stamper(threading.Thread):
    """Copies the pipe `read_fd` into the log file at `path` (appending), line by line
    stamped; closes `read_fd` at the end. Wait for it with `join(timeout)`."""

    def __init__(self, read_fd: int, path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name=f"log {path.name}", daemon=True)
        self._fd = read_fd
        self._path = path
        self._clock = clock

    def run(self) -> None:
        out = self._open()
        at_line_start = True
        try:
            while chunk := os.read(self._fd, CHUNK):
                if out is None:
                    continue  # keep draining: a full pipe would block the instance
                data, at_line_start = stamp_lines(chunk, at_line_start, self._prefix())
                try:
                    out.write(data)
                except OSError:  # the disk is full or gone: the instance runs on unlogged
                    out.close()
                    out = None
        finally:
            os.close(self._fd)
            if out is not None:
                out.close()

    def _open(self) -> BinaryIO | None:
        try:
            return open(self._path, "ab", buffering=0)  # unbuffered: readers see it now
        except OSError:
            return None

    def _prefix(self) -> bytes:
        return stamp(int(self._clock() * 1000))
