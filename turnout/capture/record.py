"""SageMaker's data-capture record: one JSON line per captured invocation (pure, no I/O).

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1,2,3", "encoding": "CSV"},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<caller's>",
                       "inferenceTime": "2026-11-25T10:15:20Z"},
     "eventVersion": "0"}

A payload whose content type is one of the config's CSV (JSON) types, and which is UTF-8,
is written as text with encoding CSV (JSON); anything else as BASE64, SageMaker's default.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection
from dataclasses import dataclass

OCTET_STREAM = "application/octet-stream"  # what an invocation without Content-Type carries


@dataclass(frozen=True)
class Encoding:
    """Which content types a config writes as text (lower-case media types, no parameters)."""

    csv: frozenset[str] = frozenset()
    json: frozenset[str] = frozenset()

    @classmethod
    def of(cls, csv: Collection[str], json_: Collection[str]) -> Encoding:
        return cls(frozenset(t.lower() for t in csv), frozenset(t.lower() for t in json_))

    def encode(self, content_type: str, data: bytes) -> tuple[str, str]:
        """(data as written, encoding): CSV or JSON text, else BASE64."""
        media = content_type.partition(";")[0].strip().lower()
        kind = "CSV" if media in self.csv else "JSON" if media in self.json else None
        if kind is not None:
            try:
                return data.decode("utf-8"), kind
            except UnicodeDecodeError:
                pass  # not text after all: base64 keeps it intact
        return base64.b64encode(data).decode("ascii"), "BASE64"


def payload(mode: str, content_type: str, data: bytes, encoding: Encoding) -> dict[str, str]:
    text, kind = encoding.encode(content_type, data)
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": kind}


def inference_time(at: float) -> str:
    """SageMaker's inferenceTime: UTC, ISO 8601, to the second."""
    second = int(at)
    if _last_time[0] != second:  # a batch's records mostly share their second
        _last_time[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))]
    return str(_last_time[1])


_last_time: list[int | str] = [-1, ""]
# One encoder, ASCII output (non-ASCII text as \uXXXX): the C fast path of json.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def record_line(
    *,
    event_id: str,
    at: float,
    inference_id: str | None,
    request: tuple[str, bytes] | None,
    response: tuple[str, bytes] | None,
    encoding: Encoding,
) -> bytes:
    """One record as a JSON line (with its newline); `request`/`response` are (content
    type, body), None when the config does not capture that side."""
    data: dict[str, dict[str, str]] = {}
    if request is not None:
        data["endpointInput"] = payload("INPUT", *request, encoding)
    if response is not None:
        data["endpointOutput"] = payload("OUTPUT", *response, encoding)
    metadata = {"eventId": event_id}
    if inference_id:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = inference_time(at)
    line = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
    return _ENCODER.encode(line).encode() + b"\n"
