"""Stacking requests' inputs and splitting a batch's outputs back: exact round trips."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import sparse

from turnout.models import batching
from turnout.models.batching import BatchingError, BatchPolicy

DTYPES = st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_])


@st.composite
def requests(draw: st.DrawFn) -> list[np.ndarray[Any, Any]]:
    """Several requests' inputs of one signature: same dtype and trailing shape."""
    dtype = draw(DTYPES)
    trailing = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4))
    counts = draw(st.lists(st.integers(1, 5), min_size=1, max_size=6))
    return [draw(hnp.arrays(dtype, (n, *trailing))) for n in counts]


@given(requests())
def test_arrays_stack_and_split_back_exactly(items: list[np.ndarray[Any, Any]]) -> None:
    assert len({batching.signature(i) for i in items}) == 1
    batch = batching.stack(items)
    assert batching.rows(batch) == sum(batching.rows(i) for i in items)
    parts = batching.split(batch, [batching.rows(i) for i in items])
    for item, part in zip(items, parts, strict=True):
        np.testing.assert_array_equal(item, part)


@given(requests(), requests())
def test_named_tensors_stack_by_name(a: list[Any], b: list[Any]) -> None:
    n = min(len(a), len(b))
    items = [{"x": x, "y": y[:1].repeat(len(x), axis=0)} for x, y in zip(a[:n], b[:n], strict=True)]
    batch = batching.stack(items)
    parts = batching.split(batch, [batching.rows(i) for i in items])
    for item, part in zip(items, parts, strict=True):
        for name in ("x", "y"):
            np.testing.assert_array_equal(item[name], part[name])


def test_frames_and_sparse_rows_stack_and_split() -> None:
    frames = [
        pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}),
        pd.DataFrame({"a": [3.0], "b": ["z"]}),
    ]
    assert batching.signature(frames[0]) == batching.signature(frames[1])
    parts = batching.split(batching.stack(frames), [2, 1])
    assert [p["b"].tolist() for p in parts] == [["x", "y"], ["z"]]

    matrices = [sparse.csr_matrix([[0.0, 1.0], [2.0, 0.0]]), sparse.csr_matrix([[3.0, 0.0]])]
    batch = batching.stack(matrices)
    assert batch.shape == (3, 2) and batching.rows(batch) == 3
    labels = np.asarray(batch.sum(axis=1)).ravel()
    assert [p.tolist() for p in batching.split(labels, [2, 1])] == [[1.0, 2.0], [3.0]]


def test_what_cannot_stack() -> None:
    assert batching.signature(np.float64(1.0)) is None  # a scalar
    assert batching.signature(np.array(["a"], dtype=object)) is None
    assert batching.signature({"x": np.ones(2), "y": np.ones(3)}) is None  # ragged
    assert batching.signature("text") is None
    assert batching.signature(np.ones((2, 3))) != batching.signature(np.ones((2, 4)))
    assert batching.signature(np.ones(2, np.float32)) != batching.signature(np.ones(2))


def test_outputs_without_a_row_per_input_row_do_not_split() -> None:
    with pytest.raises(ValueError, match="one row of outputs per row of inputs"):
        batching.split(np.ones(3), [2, 2])
    with pytest.raises(ValueError):
        batching.split(1.5, [1, 1])
    assert batching.split([1, 2, 3], [1, 2]) == [[1], [2, 3]]


@pytest.mark.parametrize(
    ("environment", "fragment"),
    [
        ({"TURNOUT_MAX_BATCH_SIZE": "0"}, "TURNOUT_MAX_BATCH_SIZE='0'"),
        ({"TURNOUT_MAX_BATCH_SIZE": "many"}, "whole number from 1"),
        ({"TURNOUT_MAX_BATCH_SIZE": "2048"}, "to 1024"),
        ({"TURNOUT_MAX_BATCH_DELAY_MS": "-1"}, "milliseconds from 0 to 1000"),
        ({"TURNOUT_MAX_BATCH_DELAY_MS": "nan"}, "TURNOUT_MAX_BATCH_DELAY_MS='nan'"),
    ],
)
def test_bad_values_say_what_to_give(environment: dict[str, str], fragment: str) -> None:
    with pytest.raises(BatchingError, match=fragment):
        BatchPolicy.of(environment)
