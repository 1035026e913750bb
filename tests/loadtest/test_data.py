"""Request data: CSV and JSON Lines rows become bodies; bad files say what to give."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.loadtest import data
from turnout.loadtest.data import DataError, load_request_data


def test_csv_rows_with_a_header_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b,c\n1,2,3\n\n4.5,5,6\n")
    loaded = load_request_data(path)
    assert loaded.content_type == "text/csv"
    assert loaded.bodies == (b"1,2,3", b"4.5,5,6")
    assert loaded.body(5) == b"4.5,5,6"  # cycled


def test_json_lines_are_sent_compact(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('[1, 2, 3]\n{"inputs": [[1.0, 2.0]]}\n')
    loaded = load_request_data(path)
    assert loaded.content_type == "application/json"
    assert loaded.bodies == (b"[1,2,3]", b'{"inputs":[[1.0,2.0]]}')


def test_bad_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="no rows"):
        load_request_data(empty)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("[1, 2]\n[1, \n")
    with pytest.raises(DataError, match="line 2 is not JSON"):
        load_request_data(broken)
    other = tmp_path / "rows.parquet"
    other.write_text("1,2")
    with pytest.raises(DataError, match="--content-type"):
        load_request_data(other)
    assert load_request_data(other, "text/csv").bodies == (b"1,2",)
    with pytest.raises(DataError, match="cannot read"):
        load_request_data(tmp_path / "missing.csv")
    monkeypatch.setattr(data, "MAX_BYTES", 4)
    with pytest.raises(DataError, match="under"):
        load_request_data(broken)
