"""The request data: a CSV or JSON Lines file whose rows become request bodies, cycled.

- `.csv`: each line is one `text/csv` body (the line itself, without its newline), as the
  built-in flavors read CSV rows. A first line that is not all numbers is a header and is
  skipped.
- `.jsonl` / `.ndjson` (or `--content-type application/json`): each line is one JSON value
  sent as an `application/json` body (a row `[0.0, 1.0, ...]`, rows `[[...], [...]]`, or
  whatever object the model's `input_fn` takes).

Blank lines are skipped. The file is bounded (`MAX_BYTES`) and so is the number of rows
kept (`MAX_ROWS`): a load test cycles through its rows, so more would add nothing.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 64 * 1024 * 1024
MAX_ROWS = 100_000
CSV = "text/csv"
JSON = "application/json"


class DataError(ValueError):
    """The file cannot serve as request data; str says why and what to give."""


@dataclass(frozen=True)
class RequestData:
    bodies: tuple[bytes, ...]
    content_type: str
    source: str

    def body(self, index: int) -> bytes:
        return self.bodies[index % len(self.bodies)]


def load_request_data(path: Path, content_type: str | None = None) -> RequestData:
    """Read `path`'s rows as bodies; the kind comes from `content_type`, else the suffix."""
    kind = content_type or _kind_of(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DataError(
                f"{path} is {size / 2**20:.0f} MB: a load test cycles through its rows, "
                f"give a file under {MAX_BYTES // 2**20} MB"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text: give CSV or JSON Lines") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if kind == CSV:
        if lines and not _numeric_row(lines[0]):
            lines = lines[1:]  # a header
        bodies = [line.encode() for line in lines[:MAX_ROWS]]
    else:
        bodies = []
        for number, line in enumerate(lines[:MAX_ROWS], start=1):
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path} line {number} is not JSON ({exc.msg}): give one JSON value per line"
                ) from None
            bodies.append(json.dumps(value, separators=(",", ":")).encode())
    if not bodies:
        raise DataError(f"{path} holds no rows: give at least one request body")
    return RequestData(tuple(bodies), kind, str(path))


def _kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return CSV
    if suffix in (".jsonl", ".ndjson", ".json"):
        return JSON
    raise DataError(
        f"{path}: name a .csv or .jsonl file, or give --content-type text/csv or application/json"
    )


def _numeric_row(line: str) -> bool:
    try:
        cells = next(csv.reader(io.StringIO(line)))
    except (csv.Error, StopIteration):
        return False
    try:
        for cell in cells:
            float(cell)
    except ValueError:
        return False
    return bool(cells)
