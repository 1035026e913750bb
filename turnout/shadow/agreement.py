"""Whether a shadow's answer agrees with production's. Pure.

Answers are compared as JSON when both parse, else as comma- or whitespace-separated
tokens (CSV). Integers, strings and booleans must be equal (labels); as soon as one side of
a pair of numbers is a float, they agree within a tolerance, as numpy.isclose reads it:
|shadow - production| <= atol + rtol * |production|.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_TOKENS = re.compile(rb"[,\s]+")


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-5
    atol: float = 1e-8

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")


def agree(production: bytes, shadow: bytes, tolerance: Tolerance = Tolerance()) -> bool:
    if production == shadow:
        return True
    try:
        left, right = json.loads(production), json.loads(shadow)
    except (ValueError, UnicodeDecodeError):
        return _same_tokens(production, shadow, tolerance)
    return _same(left, right, tolerance)


def _same(left: Any, right: Any, tolerance: Tolerance) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, int | float) and isinstance(right, int | float):
        if isinstance(left, int) and isinstance(right, int):
            return left == right
        return close(float(left), float(right), tolerance)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _same(a, b, tolerance) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            _same(left[k], right[k], tolerance) for k in left
        )
    return bool(left == right)


def close(reference: float, other: float, tolerance: Tolerance) -> bool:
    """numpy.isclose(other, reference): |other - reference| <= atol + rtol * |reference|
    (NaN agrees with NaN only, an infinity with itself only)."""
    if math.isnan(reference) or math.isnan(other):
        return math.isnan(reference) and math.isnan(other)
    if math.isinf(reference) or math.isinf(other):
        return reference == other
    return abs(other - reference) <= tolerance.atol + tolerance.rtol * abs(reference)


def _same_tokens(production: bytes, shadow: bytes, tolerance: Tolerance) -> bool:
    try:
        production.decode(), shadow.decode()
    except UnicodeDecodeError:
        return False  # not text, and not equal bytes
    left = [t for t in _TOKENS.split(production.strip()) if t]
    right = [t for t in _TOKENS.split(shadow.strip()) if t]
    if len(left) != len(right):
        return False
    return all(_same(_token(a), _token(b), tolerance) for a, b in zip(left, right, strict=True))


def _token(token: bytes) -> Any:
    text = token.decode()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
