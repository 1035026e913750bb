"""Capture records as feature rows and labels (turnout.drift.records), and reading the
capture files of a window (turnout.drift.reader) from the layout the capture writer uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnout.capture.files import append, new_segment
from turnout.capture.record import Encoding, record_line
from turnout.drift import reader
from turnout.drift.records import decode

CSV = Encoding.of(["text/csv"], ["application/json"])
T0 = 1_764_064_800.0  # 2025-11-25 10:00:00 UTC


def line(request: tuple[str, bytes], response: tuple[str, bytes], at: float = T0) -> bytes:
    return record_line(
        event_id="e", at=at, inference_id=None, request=request, response=response, encoding=CSV
    )


@pytest.mark.parametrize(
    ("request_", "rows"),
    [
        (("text/csv", b"1,2\n3,4\n"), [["1", "2"], ["3", "4"]]),
        (("application/json", b"[[1, 2], [3, 4]]"), [["1", "2"], ["3", "4"]]),
        (("application/json", b'{"instances": [[1, null]]}'), [["1", ""]]),
        (("application/json", b"[5, 6]"), [["5", "6"]]),
        (("application/x-other", b"7,8"), [["7", "8"]]),  # BASE64 in the record
    ],
)
def test_inputs_become_rows(request_: tuple[str, bytes], rows: list[list[str]]) -> None:
    decoded = decode([line(request_, ("text/csv", b"1\n0\n"))])
    assert decoded.rows == rows
    assert decoded.predictions == ["1", "0"]
    assert decoded.skipped == 0


def test_bad_lines_are_counted_not_raised() -> None:
    good = line(("text/csv", b"1,2"), ("application/json", b"[1]"))
    decoded = decode([b"not json", b'{"captureData": 3}', good])
    assert decoded.skipped == 2 and decoded.rows == [["1", "2"]] and decoded.predictions == ["1"]


def test_the_window_reads_only_its_records(tmp_path: Path) -> None:
    for at in (T0 - 3600.0, T0 + 5.0, T0 + 20.0):  # the first is an hour older
        segment = new_segment("ep", "A", at)
        request = ("text/csv", f"{at}".encode())
        append(str(tmp_path / segment.path), line(request, ("text/csv", b"1"), at))
    assert reader.variants(str(tmp_path), "ep") == ["A"]
    assert reader.variants(str(tmp_path), "nope") == []
    found = reader.lines(tmp_path.as_uri(), "ep", "A", T0, T0 + 10.0)
    assert [json.loads(x)["captureData"]["endpointInput"]["data"] for x in found] == [f"{T0 + 5.0}"]
    assert reader.lines("s3://bucket/prefix", "ep", "A", T0, T0 + 10.0) == []
