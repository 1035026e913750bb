"""Instance output stamped line by line on its way to the log file."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from turnout.instances.stamping import Stamper, parse, stamp, stamp_lines

MS = 1_796_324_450_123  # 2026-12-03T19:00:50.123Z


def test_a_stamp_is_read_back() -> None:
    assert stamp(MS) == b"2026-12-03T19:00:50.123Z "
    assert parse(stamp(MS) + b"hello") == (MS, b"hello")


def test_lines_without_a_stamp_are_kept_whole() -> None:
    assert parse(b"plain line") == (None, b"plain line")
    not_a_date = b"2026-13-45T99:00:50.123Z no such day"
    assert parse(not_a_date) == (None, not_a_date)


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_chunks_stamp_each_line_once(chunks: list[bytes]) -> None:
    """However the output is cut into chunks, every line gets exactly one prefix."""
    out, at_start = b"", True
    for chunk in chunks:
        data, at_start = stamp_lines(chunk, at_start, b"@ ")
        out += data
    *lines, last = b"".join(chunks).split(b"\n")
    assert out == b"".join(b"@ " + line + b"\n" for line in lines) + (b"@ " + last if last else b"")


def test_the_stamper_copies_a_pipe_into_the_file(tmp_path: Path) -> None:
    log = tmp_path / "i.log"
    log.write_bytes(b"older line\n")
    read_fd, write_fd = os.pipe()
    stamper = Stamper(read_fd, log, clock=lambda: MS / 1000)
    stamper.start()
    os.write(write_fd, b"first\nsecond ")
    os.write(write_fd, b"half\nthird")
    os.close(write_fd)  # the instance ended
    stamper.join(10)
    assert not stamper.is_alive()
    prefix = stamp(MS)
    assert log.read_bytes() == (
        b"older line\n" + prefix + b"first\n" + prefix + b"second half\n" + prefix + b"third"
    )


def test_an_unwritable_log_still_drains_the_pipe(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    stamper = Stamper(read_fd, tmp_path / "absent" / "i.log")
    stamper.start()
    for _ in range(64):  # more than a pipe holds: would block if nobody read
        os.write(write_fd, b"x" * 4096)
    os.close(write_fd)
    stamper.join(10)
    assert not stamper.is_alive()
