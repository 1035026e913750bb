"""Input and output locations of asynchronous requests (file:// here; s3:// in the e2e test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.async_inference.objects import (
    InputError,
    LocationError,
    ObjectAt,
    Objects,
    parse_object,
)
from turnout.models.s3 import S3Source


def test_locations_name_one_object() -> None:
    assert parse_object("s3://bucket/a/b.csv") == ObjectAt(bucket="bucket", key="a/b.csv")
    assert parse_object("file:///data/in%20put.csv") == ObjectAt(path=Path("/data/in put.csv"))
    for bad in ("s3://bucket", "s3://bucket/dir/", "file://host/x", "file:///dir/", "/abs/x",
                "https://example.com/x", "s3://b/" + "k" * 1100):  # fmt: skip
        with pytest.raises(LocationError):
            parse_object(bad)


def test_an_input_over_the_limit_or_missing_is_refused_with_the_reason(tmp_path: Path) -> None:
    objects = Objects(S3Source(), tmp_path / "spool", max_input_bytes=10)
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_bytes(b"1,2\n")
    big.write_bytes(b"x" * 11)
    found = objects.fetch(small.as_uri())
    assert (found.path, found.size, found.spooled) == (small, 4, False)
    found.discard()
    assert small.exists()  # a local input is read in place, never deleted
    with pytest.raises(InputError, match="11 bytes, more than the 10"):
        objects.fetch(big.as_uri())
    with pytest.raises(InputError, match="Cannot read the input"):
        objects.fetch((tmp_path / "absent.csv").as_uri())
    with pytest.raises(InputError, match="not a file"):
        objects.fetch(tmp_path.as_uri())  # a directory


def test_outputs_are_written_whole_and_found_again(tmp_path: Path) -> None:
    objects = Objects(S3Source(), tmp_path / "spool", max_input_bytes=10)
    location = (tmp_path / "out" / "id.out").as_uri()
    assert not objects.exists(location)
    objects.write(location, b'{"a": 1}', "application/json")
    assert objects.exists(location)
    assert (tmp_path / "out" / "id.out").read_bytes() == b'{"a": 1}'
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["id.out"]  # no scratch left


def test_a_restart_clears_the_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "input-abc").write_bytes(b"half")
    (spool / "kept.txt").write_bytes(b"not ours")
    Objects(S3Source(), spool, max_input_bytes=10).clear_spool()
    assert [p.name for p in spool.iterdir()] == ["kept.txt"]
