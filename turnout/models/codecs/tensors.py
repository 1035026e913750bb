"""Open Inference Protocol tensors for models that take one array of rows.

Most models served here (scikit-learn estimators, XGBoost boosters) take one 2-D array and
answer one array: the request's single input tensor is that array (a 1-D tensor is one
row), and the answer is one output tensor named after what the model computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from turnout.models.errors import InvocationError
from turnout.models.runtime import Array


class RowTensors:
    """The TensorCodec of single-array models; `output` names the answer's tensor."""

    __slots__ = ("dtype", "output")

    def __init__(self, output: str, dtype: Any = None) -> None:
        self.output = output
        self.dtype = dtype  # cast inputs to it (None: keep the tensor's own)

    def inputs(self, tensors: Mapping[str, Array]) -> Array:
        if len(tensors) != 1:
            raise InvocationError(
                400, f"the model takes one input tensor; the request has {len(tensors)}"
            )
        (array,) = tensors.values()
        if array.ndim == 0 or array.size == 0:
            raise InvocationError(400, "the input tensor must hold at least one row of values")
        if array.dtype == object:
            raise InvocationError(400, "the model takes numbers, not BYTES")
        if self.dtype is not None and array.dtype != self.dtype:
            array = array.astype(self.dtype)
        return array.reshape(1, -1) if array.ndim == 1 else array

    def outputs(self, outputs: Any) -> dict[str, Array]:
        if isinstance(outputs, dict):
            return {name: np.asarray(value) for name, value in outputs.items()}
        return {self.output: np.asarray(outputs)}


_DATATYPES = {
    "b1": "BOOL",
    "i1": "INT8",
    "i2": "INT16",
    "i4": "INT32",
    "i8": "INT64",
    "u1": "UINT8",
    "u2": "UINT16",
    "u4": "UINT32",
    "u8": "UINT64",
    "f2": "FP16",
    "f4": "FP32",
    "f8": "FP64",
}


def datatype(dtype: Any) -> str:
    """The Open Inference Protocol datatype of a numpy dtype; BYTES for strings, objects."""
    kind = np.dtype(dtype)
    return _DATATYPES.get(f"{kind.kind}{kind.itemsize}", "BYTES")
