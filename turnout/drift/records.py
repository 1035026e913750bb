"""Captured invocations as feature rows and predicted labels (pure).

A capture record's input is CSV (one or more lines, one row each) or JSON (a list of rows,
{"instances": [...]}, {"inputs": [...]} or one flat list); its output likewise gives the
predicted labels. BASE64 payloads are decoded first. Anything else is skipped, counted.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

MAX_ROWS_PER_RECORD = 1000


@dataclass
class Decoded:
    rows: list[list[str]] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    skipped: int = 0  # records (or payloads) that could not be read


def _text(payload: dict[str, Any]) -> tuple[str, str]:
    """(text, kind) where kind is "csv" or "json" by encoding, else by content type."""
    data = str(payload.get("data", ""))
    encoding = payload.get("encoding", "")
    media = str(payload.get("observedContentType", "")).partition(";")[0].strip().lower()
    if encoding == "BASE64":
        data = base64.b64decode(data, validate=False).decode("utf-8")
    kind = {"CSV": "csv", "JSON": "json"}.get(encoding) or ("json" if "json" in media else "csv")
    return data, kind


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _json_rows(value: Any) -> list[list[str]]:
    if isinstance(value, dict):
        value = value.get("instances", value.get("inputs", value.get("predictions", [])))
    if isinstance(value, list) and value and not isinstance(value[0], list | dict):
        value = [value]
    rows = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            item = item.get("features", list(item.values()))
        rows.append([_cell(v) for v in item] if isinstance(item, list) else [_cell(item)])
    return rows


def rows_of(payload: dict[str, Any]) -> list[list[str]]:
    text, kind = _text(payload)
    if kind == "json":
        return _json_rows(json.loads(text))[:MAX_ROWS_PER_RECORD]
    return [r for r in csv.reader(io.StringIO(text)) if r][:MAX_ROWS_PER_RECORD]


def labels_of(payload: dict[str, Any]) -> list[str]:
    """Predicted labels: the first value of each output row."""
    return [r[0].strip() for r in rows_of(payload) if r]


def decode(lines: list[bytes]) -> Decoded:
    """Rows and predictions of capture lines (bad lines are counted, never raised)."""
    out = Decoded()
    for line in lines:
        try:
            data = json.loads(line)["captureData"]
            if "endpointInput" in data:
                out.rows += rows_of(data["endpointInput"])
            if "endpointOutput" in data:
                out.predictions += labels_of(data["endpointOutput"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            out.skipped += 1
    return out
