"""Log events read from an instance's log file, a bounded window at a time.

A line is an event; its time is the stamp turnout's instance log writer put before it
(turnout/instances/stamping.py). A line without one (a file from before stamps, the rest
of a line longer than a window) takes the time of a stamped line near it, or the file's
modification time. Positions are byte offsets
in the file, so paging resumes exactly where a page ended. Only complete lines are events:
a line still being written shows up once its newline arrives. Blocking file reads: call
these off the event loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from turnout.instances.stamping import parse

MAX_EVENTS = 10_000  # AWS's most events in one answer
MAX_BYTES = 1_048_576  # ... and most bytes (each event: its message's bytes + 26)
EVENT_OVERHEAD = 26
MAX_MESSAGE_BYTES = 256 * 1024  # AWS's largest event; longer lines are cut


@dataclass(frozen=True)
class Event:
    timestamp: int  # epoch ms
    message: str
    start: int  # byte offset of the line in its file
    end: int  # byte offset just after it

    @property
    def size(self) -> int:
        """What the event counts towards an answer's MAX_BYTES, as AWS counts it."""
        return len(self.message.encode()) + EVENT_OVERHEAD


@dataclass(frozen=True)
class Window:
    events: list[Event]
    start: int  # offset of the first byte the window covers
    end: int  # offset just after the last complete line it covers
    size: int  # the file's size when read
    exhausted: bool  # reading forward: no complete line lies past `end`


def events_in(data: bytes, base: int, fallback_ms: int) -> list[Event]:
    """The lines of `data` (complete or not), which starts at file offset `base`. A line
    without a stamp takes the time of the line before it; lines before the window's first
    stamp take that stamp (they were written no later), or `fallback_ms` if there is none."""
    lines = data.splitlines(keepends=True)
    parsed = [parse(line) for line in lines]
    timestamp = next((t for t, _ in parsed if t is not None), fallback_ms)
    found = []
    offset = base
    for line, (stamped, text) in zip(lines, parsed, strict=True):
        timestamp = stamped if stamped is not None else timestamp
        message = text.rstrip(b"\r\n")[:MAX_MESSAGE_BYTES].decode("utf-8", "replace")
        found.append(Event(timestamp, message, offset, offset + len(line)))
        offset += len(line)
    return found


def read_forward(path: Path, offset: int, budget: int = MAX_BYTES) -> Window:
    """The complete lines from `offset`, at most `budget` bytes of them (a longer line
    alone is one event cut to `budget`, so a reader always gets past it)."""
    try:
        with open(path, "rb") as f:
            size, mtime = _size_and_mtime(f.fileno())
            offset = min(offset, size)
            f.seek(offset)
            data = f.read(budget)
    except FileNotFoundError:  # removed since it was listed: nothing (more) to read
        return Window([], offset, offset, offset, True)
    complete = data[: data.rfind(b"\n") + 1]
    if not complete and len(data) == budget:  # one line longer than a window
        complete = data
    exhausted = len(data) < budget  # read to the end of the file
    return Window(
        events_in(complete, offset, mtime), offset, offset + len(complete), size, exhausted
    )


def read_backward(path: Path, offset: int, budget: int = MAX_BYTES) -> Window:
    """The complete lines that end at or before `offset`, at most `budget` bytes of them."""
    try:
        with open(path, "rb") as f:
            size, mtime = _size_and_mtime(f.fileno())
            end = min(offset, size)
            start = max(0, end - budget)
            f.seek(start)
            data = f.read(end - start)
    except FileNotFoundError:  # removed since it was listed
        return Window([], 0, 0, 0, True)
    last = data.rfind(b"\n") + 1
    if end == size:  # a line still being written is not an event yet
        data, end = data[:last], start + last
    if start > 0:  # the window's first line may be cut: drop it, unless it is all there is
        first = data.find(b"\n") + 1
        if 0 < first < len(data):
            data, start = data[first:], start + first
    return Window(events_in(data, start, mtime), start, end, size, start == 0)


def first_and_last(path: Path, probe: int = 64 * 1024) -> tuple[int | None, int | None]:
    """The times of a file's first and last complete events (None if it has none)."""
    head = read_forward(path, 0, probe).events
    tail = read_backward(path, 1 << 62, probe).events
    return (head[0].timestamp if head else None), (tail[-1].timestamp if tail else None)


def _size_and_mtime(fd: int) -> tuple[int, int]:
    status = os.fstat(fd)
    return status.st_size, int(status.st_mtime * 1000)
