from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.checks import data
from turnout.domain.checks import Row


def test_csv_label_by_default_name_inputs_as_numbers() -> None:
    found = data.parse("a,b,Target\n1,2.5,cat\n3,,dog\n\n", jsonl=False)
    assert found.label == "Target" and found.inputs == ("a", "b")
    assert found.rows == (Row((1, 2.5), "cat"), Row((3, None), "dog"))


def test_csv_label_named_and_text_inputs() -> None:
    found = data.parse("text,y,class\nhello,1,0\n", jsonl=False, label="class")
    assert found.rows == (Row(("hello", 1), 0),)


def test_jsonl_a_list_field_is_the_row_else_the_fields_are() -> None:
    found = data.parse(
        '{"features": [1, 2], "label": 3}\n{"features": [4, 5], "label": 6}', jsonl=True
    )
    assert found.rows == (Row((1, 2), 3), Row((4, 5), 6))
    flat = data.parse('{"x1": 1, "x2": "a", "y": 0.5}', jsonl=True)
    assert flat.rows == (Row((1, "a"), 0.5),) and flat.inputs == ("x1", "x2")


def test_no_label_column_is_unlabelled() -> None:
    found = data.parse("a,b\n1,2\n", jsonl=False)
    assert not found.labelled and found.rows == (Row((1, 2), None),)


@pytest.mark.parametrize(
    ("text", "jsonl", "says"),
    [
        ("", False, "needs a header row"),
        ("a,label\n", False, "no rows"),
        ("label\n1\n", False, "only the label column"),
        ("a,label\n1,2,3\n", False, "line 2 has 3 cells, the header 2"),
        ('{"x": 1, "label": 2}\n[1]', True, "line 2 is not a JSON object"),
        ('{"x": 1, "label": 2}\n{"x": 1}', True, "line 2 has no 'label' field"),
        ('{"x": 1, "label": 2}\n{"z": 1, "label": 2}', True, "line 2 has the fields z"),
        ("{nope", True, "line 1 is not JSON"),
    ],
)
def test_bad_files_say_what_to_fix(text: str, jsonl: bool, says: str) -> None:
    with pytest.raises(data.DataError, match=says):
        data.parse(text, jsonl=jsonl)


def test_unknown_label_names_the_columns() -> None:
    with pytest.raises(data.DataError, match="no column 'kind' for --label; the file has a, b"):
        data.parse("a,b\n1,2\n", jsonl=False, label="kind")


def test_size_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match="more than 3 rows"):
        data.parse("a,label\n" + "1,2\n" * 4, jsonl=False, max_rows=3)
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(data.MAX_BYTES + 1)
    with pytest.raises(data.DataError, match="at most 50 MB"):
        data.read(big)
    with pytest.raises(data.DataError, match="does not exist"):
        data.read(tmp_path / "missing.csv")


def test_read_picks_the_format(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"f": [1], "y": 2}\n')
    (tmp_path / "rows.txt").write_text('{"f": [1], "y": 2}\n')
    (tmp_path / "rows.csv").write_text("f,y\n1,2\n")
    for name in ("rows.jsonl", "rows.txt", "rows.csv"):
        assert data.read(tmp_path / name).rows == (Row((1,), 2),)


cells = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(-1e9, 1e9, allow_nan=False).filter(lambda f: not f.is_integer()),
    st.text(alphabet="abcxyz ", min_size=1).filter(lambda t: t.strip() == t),
)


@given(st.lists(st.tuples(st.lists(cells, min_size=2, max_size=2), cells), min_size=1))
def test_csv_and_jsonl_of_the_same_rows_read_alike(
    records: list[tuple[list[object], object]],
) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["a", "b", "label"])
    for inputs, expected in records:
        writer.writerow([*map(repr_cell, inputs), repr_cell(expected)])
    lines = "\n".join(json.dumps({"a": i[0], "b": i[1], "label": e}) for i, e in records)
    from_csv = data.parse(out.getvalue(), jsonl=False)
    from_jsonl = data.parse(lines, jsonl=True)
    assert from_csv.rows == from_jsonl.rows == tuple(Row(tuple(i), e) for i, e in records)


def repr_cell(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)
