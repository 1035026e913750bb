"""A prediction test's data file: CSV with a header, or JSON Lines; bounded in size.

One column (CSV) or field (JSON Lines) holds the expected answer: the one `label` names,
else the first of `label`, `target`, `y` present (any case); a file without one can still be
compared with another variant. The rest are the inputs, in file order:

- CSV: every other cell, as a number when it reads as one, else as text; an empty cell is
  null (NaN to a scikit-learn model).
- JSON Lines: one object per line; when a single other field holds a list (e.g.
  `{"features": [...], "label": 3}`) that list is the row, else the other fields' values.

`parse` is pure; `read` opens the file (refusing one over MAX_BYTES before reading it).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from turnout.domain.checks import MAX_ROWS, Json, Row

MAX_BYTES = 50 * 1024 * 1024
LABEL_NAMES = ("label", "target", "y")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


class DataError(Exception):
    """The data file cannot be used; str is one line that says what to fix."""


@dataclass(frozen=True)
class Dataset:
    rows: tuple[Row, ...]
    label: str | None  # the column/field of the expected answers; None: there is none
    inputs: tuple[str, ...]  # the input columns (CSV) or fields (JSON Lines), in order

    @property
    def labelled(self) -> bool:
        return self.label is not None


def read(path: Path, label: str | None = None, max_rows: int = MAX_ROWS) -> Dataset:
    """The rows of the CSV or JSON Lines file at `path` (DataError if unusable)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DataError(
                f"{path} is {size / 1024 / 1024:.0f} MB; a prediction test reads at most "
                f"{MAX_BYTES // 1024 // 1024} MB: sample it (e.g. `head -n 10001 {path.name}`)"
            )
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; give a CSV or JSON Lines file") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory; give a CSV or JSON Lines file") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; give a CSV or JSON Lines file") from None
    jsonl = path.suffix.lower() in JSONL_SUFFIXES or (
        path.suffix.lower() != ".csv" and text.lstrip().startswith("{")
    )
    try:
        return parse(text, jsonl=jsonl, label=label, max_rows=max_rows)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def parse(text: str, *, jsonl: bool, label: str | None = None, max_rows: int = MAX_ROWS) -> Dataset:
    """The rows of a CSV (with a header) or JSON Lines text."""
    dataset = _parse_jsonl(text, label, max_rows) if jsonl else _parse_csv(text, label, max_rows)
    if not dataset.rows:
        raise DataError("no rows: the file holds a header at most")
    return dataset


def _parse_csv(text: str, label: str | None, max_rows: int) -> Dataset:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise DataError("empty: a CSV file needs a header row, then one row per test")
    names = [cell.strip() for cell in header]
    column = _label_among(names, label)
    inputs = tuple(n for i, n in enumerate(names) if i != column)
    if not inputs:
        raise DataError(f"only the label column {names[column or 0]!r}: add the input columns")
    rows: list[Row] = []
    for line, cells in enumerate(reader, 2):
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        if len(cells) != len(names):
            raise DataError(f"line {line} has {len(cells)} cells, the header {len(names)}")
        _bound(len(rows), max_rows)
        values = [_cell(c) for c in cells]
        expected = values.pop(column) if column is not None else None
        rows.append(Row(tuple(values), expected))
    return Dataset(tuple(rows), names[column] if column is not None else None, inputs)


def _parse_jsonl(text: str, label: str | None, max_rows: int) -> Dataset:
    rows: list[Row] = []
    found_label: str | None = None
    fields: tuple[str, ...] = ()
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            raise DataError(f"line {line} is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise DataError(
                f'line {line} is not a JSON object: use {{"features": [...], "label": ...}}'
            )
        if not rows:
            keys = list(record)
            index = _label_among(keys, label)
            found_label = keys[index] if index is not None else None
            fields = tuple(k for k in keys if k != found_label)
            if not fields:
                raise DataError(f"line {line} has no input field besides {found_label!r}")
        _bound(len(rows), max_rows)
        if found_label is not None and found_label not in record:
            raise DataError(f"line {line} has no {found_label!r} field (line 1 has)")
        expected = record.pop(found_label) if found_label is not None else None
        if list(record) != list(fields):
            raise DataError(
                f"line {line} has the fields {', '.join(record)}; line 1 has {', '.join(fields)}"
            )
        values = list(record.values())
        inputs = values[0] if len(values) == 1 and isinstance(values[0], list) else values
        rows.append(Row(tuple(inputs), expected))
    return Dataset(tuple(rows), found_label, fields)


def _label_among(names: list[str], label: str | None) -> int | None:
    """The index of the expected answers' column: `label`'s, else a default name's."""
    if label is not None:
        if label not in names:
            raise DataError(
                f"no column {label!r} for --label; the file has {', '.join(names[:20])}"
            )
        return names.index(label)
    lowered = [n.lower() for n in names]
    for name in LABEL_NAMES:
        if name in lowered:
            return lowered.index(name)
    return None


def _cell(text: str) -> Json:
    """A CSV cell as a number when it reads as a finite one, null when empty, else text."""
    stripped = text.strip()
    if not stripped:
        return None
    digits = stripped.removeprefix("-").removeprefix("+")
    if digits.isascii() and digits.isdigit():
        return int(stripped)
    try:
        number = float(stripped)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _bound(count: int, max_rows: int) -> None:
    if count >= max_rows:
        raise DataError(
            f"more than {max_rows:,} rows; a prediction test takes at most {max_rows:,}: "
            "sample the file"
        )
