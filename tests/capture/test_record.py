"""The capture record: SageMaker's format, and which payloads are text or base64."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from tests.support.capture import check_record
from turnout.capture.record import Encoding, inference_time, record_line

TEXT = Encoding.of(["text/csv"], ["application/json"])


def line(**overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "event_id": "0b6b8e4e-4c1e-4a53-9a0e-5b2a5e0e6d11",
        "at": 1764065720.25,
        "inference_id": "req-1",
        "request": ("application/json", b"[[1,2]]"),
        "response": ("application/json", b"[8]"),
        "encoding": TEXT,
    }
    args.update(overrides)
    raw = record_line(**args)  # type: ignore[arg-type]
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    record: dict[str, object] = json.loads(raw)
    return record


def test_a_json_invocation_is_written_as_json_text() -> None:
    record = line()
    check_record(record)
    assert record == {
        "captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                              "data": "[[1,2]]", "encoding": "JSON"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": "[8]", "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": "0b6b8e4e-4c1e-4a53-9a0e-5b2a5e0e6d11",
                          "inferenceId": "req-1", "inferenceTime": "2025-11-25T10:15:20Z"},
        "eventVersion": "0",
    }  # fmt: skip


def test_csv_types_match_without_parameters_and_case() -> None:
    assert TEXT.encode("Text/CSV; charset=utf-8", b"1,2\n3,4") == ("1,2\n3,4", "CSV")


def test_other_types_and_non_utf8_text_are_base64() -> None:
    assert TEXT.encode("application/x-npy", b"\x93NUMPY") == (
        base64.b64encode(b"\x93NUMPY").decode(),
        "BASE64",
    )
    assert TEXT.encode("text/csv", b"\xff\xfe")[1] == "BASE64"
    # Without CaptureContentTypeHeader everything is base64 (SageMaker's default).
    assert Encoding().encode("application/json", b"[1]")[1] == "BASE64"


def test_one_side_and_no_inference_id() -> None:
    record = line(response=None, inference_id=None)
    check_record(record, modes=("INPUT",))
    assert "inferenceId" not in record["eventMetadata"]  # type: ignore[operator]


def test_inference_time_is_utc_to_the_second() -> None:
    assert inference_time(0.999) == "1970-01-01T00:00:00Z"


@given(st.binary(max_size=64), st.sampled_from(["text/csv", "application/json", "a/b", ""]))
def test_any_payload_round_trips(data: bytes, content_type: str) -> None:
    text, encoding = TEXT.encode(content_type, data)
    decoded = base64.b64decode(text) if encoding == "BASE64" else text.encode()
    assert decoded == data
