"""Adaptive batching's pure half: the policy, and stacking inputs / splitting outputs.

Requests whose inputs have the same signature (kind, dtype, shape past the first axis, names)
can be stacked along the first axis into one `predict` call; the outputs are split back by
each request's row count. Anything else is predicted alone. Frameworks are never imported
here: a pandas DataFrame or a scipy sparse matrix can only reach us if its library is loaded.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np

MAX_SIZE_VARIABLE = "TURNOUT_MAX_BATCH_SIZE"
MAX_DELAY_VARIABLE = "TURNOUT_MAX_BATCH_DELAY_MS"
DEFAULT_MAX_SIZE = 32
MAX_MAX_SIZE = 1024
MAX_MAX_DELAY_MS = 1000.0


class BatchingError(ValueError):
    """A batching variable has a value turnout cannot use; says which and what to give."""


@dataclass(frozen=True)
class BatchPolicy:
    """How an instance batches. `max_size` requests at most per predict call (1: off);
    `max_delay_ms` how long a lone request may wait for company (0: never waits)."""

    max_size: int = DEFAULT_MAX_SIZE
    max_delay_ms: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.max_size > 1

    @classmethod
    def of(cls, environment: Mapping[str, str], batchable: bool = True) -> BatchPolicy:
        """The policy a model's environment asks for; off when the flavor cannot batch."""
        size_text = environment.get(MAX_SIZE_VARIABLE, "").strip()
        delay_text = environment.get(MAX_DELAY_VARIABLE, "").strip()
        size = DEFAULT_MAX_SIZE
        if size_text:
            if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_MAX_SIZE:
                raise BatchingError(
                    f"{MAX_SIZE_VARIABLE}={size_text!r}: give a whole number from 1 (off) "
                    f"to {MAX_MAX_SIZE}"
                )
            size = int(size_text)
        delay = 0.0
        if delay_text:
            try:
                delay = float(delay_text)
            except ValueError:
                delay = math.nan
            if not 0.0 <= delay <= MAX_MAX_DELAY_MS:  # also refuses NaN
                raise BatchingError(
                    f"{MAX_DELAY_VARIABLE}={delay_text!r}: give milliseconds from 0 to "
                    f"{MAX_MAX_DELAY_MS:g}"
                )
        if not batchable:
            return cls(1, 0.0)
        return cls(size, delay if size > 1 else 0.0)


@dataclass(frozen=True)
class BatchingSummary:
    """How a model's instances batch, for describe output: the policy its Environment
    asks for and when the flavor applies it."""

    max_batch_size: int
    max_batch_delay_ms: float
    applies: str  # "yes", "no", or the condition (e.g. inference.py's declaration)


def summary(environment: Mapping[str, str], applies: str) -> BatchingSummary:
    """The policy of `environment` (valid: checked at registration) under `applies`."""
    policy = BatchPolicy.of(environment)
    if not policy.enabled:
        return BatchingSummary(1, 0.0, "no (TURNOUT_MAX_BATCH_SIZE=1)")
    return BatchingSummary(policy.max_size, policy.max_delay_ms, applies)


def _module(name: str) -> Any:
    return sys.modules.get(name)


def signature(inputs: Any) -> Hashable | None:
    """What must match for two requests' inputs to stack; None if they cannot stack."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 0 or inputs.dtype == object:
            return None
        return ("array", inputs.dtype.str, inputs.shape[1:])
    if isinstance(inputs, dict):
        parts = []
        length = -1
        for name, value in inputs.items():
            if not isinstance(value, np.ndarray) or value.ndim == 0 or value.dtype == object:
                return None
            if length not in (-1, len(value)):
                return None
            length = len(value)
            parts.append((name, value.dtype.str, value.shape[1:]))
        return ("tensors", tuple(parts)) if parts else None
    pandas = _module("pandas")
    if pandas is not None and isinstance(inputs, pandas.DataFrame):
        return ("frame", tuple(inputs.columns), tuple(str(t) for t in inputs.dtypes))
    sparse = _module("scipy.sparse")
    if sparse is not None and sparse.issparse(inputs) and inputs.format == "csr":
        return ("csr", inputs.dtype.str, inputs.shape[1])
    return None


def rows(inputs: Any) -> int:
    """How many rows (first-axis entries) a stackable input holds."""
    if isinstance(inputs, dict):
        return len(next(iter(inputs.values())))
    return int(inputs.shape[0])


def stack(items: Sequence[Any]) -> Any:
    """One batch of items that share a signature, in order."""
    first = items[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(items)
    if isinstance(first, dict):
        return {name: np.concatenate([item[name] for item in items]) for name in first}
    pandas = _module("pandas")
    if pandas is not None and isinstance(first, pandas.DataFrame):
        return pandas.concat(items, ignore_index=True)
    sparse = _module("scipy.sparse")
    return sparse.vstack(items, format="csr")


def split(outputs: Any, sizes: Sequence[int]) -> list[Any]:
    """Each request's share of a batch's outputs; ValueError if they don't have one row per
    input row (the caller then predicts each request alone)."""
    ends = list(accumulate(sizes))
    total = ends[-1]
    bounds = list(zip([0, *ends[:-1]], ends, strict=True))
    if isinstance(outputs, np.ndarray) and outputs.ndim > 0 and len(outputs) == total:
        return [outputs[start:end] for start, end in bounds]
    if isinstance(outputs, dict) and outputs:
        values = {name: np.asarray(value) for name, value in outputs.items()}
        if all(v.ndim > 0 and len(v) == total for v in values.values()):
            return [{n: v[start:end] for n, v in values.items()} for start, end in bounds]
    elif isinstance(outputs, list) and len(outputs) == total:
        return [outputs[start:end] for start, end in bounds]
    pandas = _module("pandas")
    if (
        pandas is not None
        and isinstance(outputs, pandas.DataFrame | pandas.Series)
        and len(outputs) == total
    ):
        return [outputs.iloc[start:end] for start, end in bounds]
    raise ValueError(
        f"the model answered {type(outputs).__name__} for a batch of {total} rows, "
        "not one row of outputs per row of inputs"
    )
