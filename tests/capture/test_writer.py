"""The capture writer: hourly files, rotation, full queue, and a full disk."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.capture import check_path, check_record, read_records
from turnout.capture.files import append
from turnout.capture.hub import CaptureHub
from turnout.capture.target import VariantCapture
from turnout.capture.writer import PROBE_NAME, CaptureWriter
from turnout.domain.resources import DataCapture

HOUR = 3600.0
T0 = 1764064800.0  # 2025-11-25T10:00:00Z


def hub(
    tmp_path: Path, writer: CaptureWriter, **settings: object
) -> tuple[CaptureHub, DataCapture]:
    """A hub, and the capture settings of config "cfg" as a publish brings them."""
    capture = DataCapture(**{"destination": f"file://{tmp_path}/out",  # type: ignore[arg-type]
                             "sampling_percentage": 100, **settings})  # fmt: skip
    return CaptureHub(writer, tmp_path / "staging"), capture


def target(
    h: CaptureHub, settings: DataCapture, endpoint: str = "ep", variant: str = "A"
) -> VariantCapture:
    found = h.for_variant(endpoint, "cfg", variant, settings)
    assert found is not None
    return found


def offer(t: VariantCapture, at: float, n: int = 1, body: bytes = b"[1]") -> None:
    for i in range(n):
        t.put((t, at, f"id-{at}-{i}".encode(), b"application/json", body, b"text/csv", b"8"))


def test_records_go_to_hourly_files_in_sagemakers_layout(tmp_path: Path) -> None:
    writer = CaptureWriter()
    t = target(*hub(tmp_path, writer, json_content_types=("application/json",)))
    offer(t, T0 + 10, 3)
    offer(t, T0 + HOUR + 5, 2)  # the next hour: a new folder and file
    writer.drain(now=T0 + HOUR + 6)
    files = read_records(tmp_path / "out")
    assert [len(records) for records in files.values()] == [3, 2]
    for path, records in files.items():
        check_path(path, tmp_path / "out", "ep", "A")
        for record in records:
            check_record(record)
    first = next(iter(files))
    assert first.relative_to(tmp_path / "out").parts[2:6] == ("2025", "11", "25", "10")
    assert t.state.captured == 5 and writer.captured == 5


def test_a_file_ends_at_its_size_limit(tmp_path: Path) -> None:
    writer = CaptureWriter(max_file_bytes=1)
    t = target(*hub(tmp_path, writer))
    for i in range(3):
        offer(t, T0 + i)
        writer.drain(now=T0 + i)
    assert [len(r) for r in read_records(tmp_path / "out").values()] == [1, 1, 1]


def test_a_full_queue_drops_and_counts_never_blocks(tmp_path: Path) -> None:
    writer = CaptureWriter(max_records=2)
    t = target(*hub(tmp_path, writer))
    for _ in range(5):
        t.offer(b"id", b"text/csv", b"1,2", b"text/csv", b"8")
    assert (t.state.dropped, writer.dropped) == (3, 3)
    writer.drain()
    assert t.state.captured == 2


def failing(after: int, error: int = errno.ENOSPC) -> Callable[[str, bytes], None]:
    calls = []

    def append_to(path: str, data: bytes) -> None:
        calls.append(path)
        if len(calls) > after:
            raise OSError(error, "No space left on device")
        append(path, data)

    return append_to


def test_a_full_disk_stops_capture_of_that_endpoint_with_the_reason(tmp_path: Path) -> None:
    writer = CaptureWriter(append_to=failing(after=1))
    h, settings = hub(tmp_path, writer)
    t = target(h, settings)
    offer(t, T0, 2)
    writer.drain(now=T0)
    offer(t, T0 + 1, 2)
    writer.drain(now=T0 + 1)  # ENOSPC
    status = h.status("ep", "cfg")
    assert not status.started
    assert status.reason is not None and "the disk is full" in status.reason
    assert (status.captured, status.write_errors, status.dropped) == (2, 1, 2)
    t.offer(b"id", b"text/csv", b"1", b"text/csv", b"8")  # not even queued any more
    assert h.status("ep", "cfg").dropped == 3
    assert [len(r) for r in read_records(tmp_path / "out").values()] == [2]


def test_a_stopped_capture_resumes_once_the_disk_has_space_again(tmp_path: Path) -> None:
    full = [True]

    def disk(path: str, data: bytes) -> None:
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        append(path, data)

    writer = CaptureWriter(append_to=disk, resume_after=10.0)
    h, settings = hub(tmp_path, writer)
    t = target(h, settings)
    offer(t, T0, 2)
    writer.drain(now=T0)  # ENOSPC: stopped
    assert not h.status("ep", "cfg").started
    writer.drain(now=T0 + 10)  # the probe: still full
    assert not h.status("ep", "cfg").started
    full[0] = False  # space again
    writer.drain(now=T0 + 19)
    assert not h.status("ep", "cfg").started  # not before the next probe
    writer.drain(now=T0 + 20)
    status = h.status("ep", "cfg")
    assert status.started and status.reason is None
    offer(t, T0 + 20, 3)
    writer.drain(now=T0 + 20)
    status = h.status("ep", "cfg")
    assert (status.captured, status.write_errors) == (3, 1)
    assert [len(r) for r in read_records(tmp_path / "out").values()] == [3]
    assert not list((tmp_path / "out").rglob(PROBE_NAME)), "the probe is left behind"


def test_a_half_written_batch_is_cut_back_to_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.jsonl"
    append(str(path), b'{"a":1}\n')
    real_write = __import__("os").write

    def short_then_full(fd: int, data: memoryview) -> int:
        if len(data) > 4:
            return int(real_write(fd, data[:4]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("turnout.capture.files.os.write", short_then_full)
    with pytest.raises(OSError):
        append(str(path), b'{"b":2}\n')
    assert path.read_bytes() == b'{"a":1}\n'


def test_an_s3_destination_uploads_each_closed_file(tmp_path: Path) -> None:
    uploaded: list[tuple[str, str, list[str]]] = []

    def upload(path: Path, bucket: str, key: str) -> None:
        uploaded.append((bucket, key, path.read_text().splitlines()))

    writer = CaptureWriter(upload=upload, roll_seconds=60)
    h, settings = hub(tmp_path, writer, destination="s3://bucket/cap/")
    t = target(h, settings)
    offer(t, T0, 2)
    writer.drain(now=T0 + 1)
    assert uploaded == []  # still open
    writer.drain(now=T0 + 61)
    assert [(b, len(lines)) for b, _, lines in uploaded] == [("bucket", 2)]
    key = uploaded[0][1]
    assert key.startswith("cap/ep/A/2025/11/25/10/") and key.endswith(".jsonl")
    assert not list((tmp_path / "staging").rglob("*.jsonl"))  # uploaded files are removed


def test_the_same_settings_keep_the_same_target_across_publishes(tmp_path: Path) -> None:
    h, settings = hub(tmp_path, CaptureWriter())
    assert target(h, settings) is target(h, settings)
    assert target(h, settings, variant="B") is not target(h, settings)
    assert h.status("other", "cfg").started


def test_zero_percent_disabled_or_no_settings_capture_nothing(tmp_path: Path) -> None:
    for h, settings in (
        hub(tmp_path, CaptureWriter(), sampling_percentage=0),
        hub(tmp_path, CaptureWriter(), enabled=False),
    ):
        assert h.for_variant("e", "c", "A", settings) is None
    h, _ = hub(tmp_path, CaptureWriter())
    assert h.for_variant("e", "c", "A", None) is None


def test_the_thread_writes_what_is_queued_when_closed(tmp_path: Path) -> None:
    writer = CaptureWriter(interval=60)  # only close() makes it write
    t = target(*hub(tmp_path, writer))
    writer.start()
    offer(t, T0, 4)
    writer.close(timeout=10)
    assert t.state.captured == 4
