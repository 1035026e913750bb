"""Hypothesis strategies for Open Inference Protocol tensors, and array equality for them."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from turnout.models.codecs import v2
from turnout.models.codecs.v2 import Tensor

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)


@st.composite
def tensors(draw: st.DrawFn, name: str = "x") -> Tensor:
    """A tensor of any datatype (NaNs included); BYTES elements are arbitrary bytes."""
    datatype = draw(st.sampled_from(list(v2.DATATYPES)))
    shape = draw(shapes)
    if datatype == "BYTES":
        count = int(np.prod(shape))
        elements = draw(st.lists(st.binary(max_size=8), min_size=count, max_size=count))
        data = np.empty(count, dtype=object)
        data[:] = elements
        data = data.reshape(shape)
    else:
        data = draw(hnp.arrays(v2.DATATYPES[datatype], shape))
    return Tensor(name, datatype, shape, data)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and elements (NaN equals NaN)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
