"""DataCaptureConfig checks and destinations (as SageMaker validates them, plus file://)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from turnout.capture.destination import check, parse_destination
from turnout.domain.resources import DataCapture
from turnout.errors import InvalidRequest

OK = DataCapture(destination="s3://bucket/prefix", sampling_percentage=30)


def test_destinations() -> None:
    assert parse_destination("file:///var/cap").path == Path("/var/cap")
    assert parse_destination("/var/cap").path == Path("/var/cap")
    s3 = parse_destination("s3://bucket/a/b/")
    assert (s3.is_s3, s3.bucket, s3.prefix) == (True, "bucket", "a/b")


@pytest.mark.parametrize(
    "uri", ["relative/dir", "file://host/x", "https://example.com/x", "s3://", "/" + "x" * 600]
)
def test_bad_destinations_are_refused(uri: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_destination(uri)


@pytest.mark.parametrize(
    "change",
    [
        {"sampling_percentage": 101},
        {"sampling_percentage": -1},
        {"capture_input": False, "capture_output": False},
        {"csv_content_types": ("not a type",)},
        {"json_content_types": tuple(f"a/t{i}" for i in range(11))},
    ],
)
def test_bad_configs_are_refused(change: dict[str, object]) -> None:
    check(OK)
    with pytest.raises(InvalidRequest):
        check(replace(OK, **change))  # type: ignore[arg-type]
