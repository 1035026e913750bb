"""SageMaker's data-capture record format, checked field by field, and reading captures."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

_ISO_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FILE = re.compile(r"\d\d-\d\d-\d{3}-" + _UUID.pattern + r"\.jsonl")
_HOUR_DIRS = (r"\d{4}", r"\d\d", r"\d\d", r"\d\d")


def check_record(record: Any, modes: tuple[str, ...] = ("INPUT", "OUTPUT")) -> None:
    """AssertionError unless `record` is a SageMaker capture record (eventVersion 0)."""
    assert isinstance(record, dict)
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}, record
    assert record["eventVersion"] == "0"
    data = record["captureData"]
    names = {"INPUT": "endpointInput", "OUTPUT": "endpointOutput"}
    assert set(data) == {names[m] for m in modes}, data
    for mode in modes:
        payload = data[names[mode]]
        assert set(payload) == {"observedContentType", "mode", "data", "encoding"}, payload
        assert payload["mode"] == mode
        assert isinstance(payload["observedContentType"], str) and payload["observedContentType"]
        assert payload["encoding"] in ("CSV", "JSON", "BASE64")
        assert isinstance(payload["data"], str)
        if payload["encoding"] == "BASE64":
            base64.b64decode(payload["data"], validate=True)
        if payload["encoding"] == "JSON":
            json.loads(payload["data"])
    metadata = record["eventMetadata"]
    assert set(metadata) <= {"eventId", "inferenceId", "inferenceTime"}, metadata
    assert _UUID.fullmatch(metadata["eventId"]), metadata
    assert _ISO_SECOND.fullmatch(metadata["inferenceTime"]), metadata
    if "inferenceId" in metadata:
        assert isinstance(metadata["inferenceId"], str) and metadata["inferenceId"]


def check_path(path: Path, root: Path, endpoint: str, variant: str) -> None:
    """<root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl"""
    parts = path.relative_to(root).parts
    assert parts[:2] == (endpoint, variant), parts
    assert len(parts) == 7, parts
    for part, pattern in zip(parts[2:6], _HOUR_DIRS, strict=True):
        assert re.fullmatch(pattern, part), parts
    assert _FILE.fullmatch(parts[6]), parts


def read_records(root: Path) -> dict[Path, list[Any]]:
    """Every capture file under `root` with its records (complete lines only)."""
    found = {}
    for path in sorted(root.rglob("*.jsonl")):
        lines = path.read_bytes().split(b"\n")
        found[path] = [json.loads(line) for line in lines[:-1]]
    return found
