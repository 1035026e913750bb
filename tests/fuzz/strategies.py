"""Hypothesis strategies built from a botocore service model: values that satisfy a shape
(structures, lists, maps, strings with length/pattern/enum, numbers with ranges,
timestamps, blobs) and values that break it (a required member dropped, an unknown member,
a wrong type or an out-of-range value somewhere inside, JSON no encoder makes).

Raw JSON that Python cannot encode (1e400, a 10,000-deep array) travels as a `Raw` marker
string that `encode` splices into the body as it is.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import strategies as st

from turnout.api.sagemaker.servicemodel import ServiceModel, Shape

MAX_ITEMS = 3  # list and map entries: enough to reach every member, small enough to be fast
MAX_TEXT = 24  # strings without a tighter bound
MAX_DEPTH = 6  # recursive shapes stop here (an empty structure / list)
_RAW = "\x00raw:"

# JSON no Python value encodes to, and values whose type is wrong almost everywhere.
DEEP = "[" * 10_000 + "]" * 10_000
HUGE_NUMBERS = ("1e400", "-1e400", "1e-400", str(2**70), str(-(2**70)), "NaN", "Infinity")


def raw(text: str) -> str:
    """A marker that `encode` replaces by `text` unquoted."""
    return _RAW + text


def encode(value: Any) -> bytes:
    """JSON of `value`, with every `raw()` marker spliced in as raw JSON."""
    text = json.dumps(value, separators=(",", ":"))
    return re.sub(
        r'"\\u0000raw:((?:[^"\\]|\\.)*)"', lambda m: json.loads(f'"{m[1]}"'), text
    ).encode()


def wrong_values() -> st.SearchStrategy[Any]:
    """Values of any JSON type, the awkward ones first."""
    return st.one_of(
        st.sampled_from([None, True, 0, -1, "", [], {}, 1.5, "x" * 70_000]),
        st.sampled_from([raw(n) for n in HUGE_NUMBERS] + [raw(DEEP)]),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=MAX_TEXT),
        st.lists(st.integers(), max_size=MAX_ITEMS),
        st.dictionaries(st.text(max_size=8), st.integers(), max_size=MAX_ITEMS),
    )


class Shapes:
    """Strategies for one service model's shapes (built once per shape and depth)."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self._cache: dict[tuple[str, int], st.SearchStrategy[Any]] = {}

    def input_of(self, operation: str) -> str | None:
        return self.model.input_shape(operation)

    def valid(self, name: str, depth: int = 0) -> st.SearchStrategy[Any]:
        key = (name, depth)
        if key not in self._cache:
            self._cache[key] = self._build(self.model.shapes[name], depth)
        return self._cache[key]

    def invalid(self, name: str, *, surely: bool = False) -> st.SearchStrategy[Any]:
        """A valid value of structure `name` with one thing broken somewhere inside; with
        `surely`, also without one of its required members, so that no handler can run
        (for operations whose success would start model processes)."""
        broken = st.builds(_Break, self.valid(name), st.data())
        return broken.map(lambda b: b.apply(self, name, surely))

    def _build(self, shape: Shape, depth: int) -> st.SearchStrategy[Any]:
        kind = shape["type"]
        deeper = depth + 1
        if kind == "structure":
            if depth >= MAX_DEPTH:
                return st.just({})
            members = shape.get("members", {})
            required = set(shape.get("required", ()))
            return st.fixed_dictionaries(
                {m: self.valid(s["shape"], deeper) for m, s in members.items() if m in required},
                optional={
                    m: self.valid(s["shape"], deeper)
                    for m, s in members.items()
                    if m not in required
                },
            )
        if kind == "list":
            low, high = _sizes(shape)
            if depth >= MAX_DEPTH:
                return st.just([])
            return st.lists(
                self.valid(shape["member"]["shape"], deeper), min_size=low, max_size=high
            )
        if kind == "map":
            low, high = _sizes(shape)
            return st.dictionaries(
                self.valid(shape["key"]["shape"], deeper),
                self.valid(shape["value"]["shape"], deeper),
                min_size=low,
                max_size=high,
            )
        return _scalar(shape, kind)


def _sizes(shape: Shape) -> tuple[int, int]:
    low = min(int(shape.get("min", 0)), MAX_ITEMS)
    return low, max(low, min(int(shape.get("max", MAX_ITEMS)), MAX_ITEMS))


def _scalar(shape: Shape, kind: str) -> st.SearchStrategy[Any]:
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        high = 2**31 - 1 if kind == "integer" else 2**63 - 1
        return st.integers(int(shape.get("min", -high - 1)), int(shape.get("max", high)))
    if kind in ("float", "double"):
        return st.floats(shape.get("min"), shape.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.one_of(
            st.integers(0, 4_102_444_800),  # epoch seconds, as boto3 sends them
            st.datetimes().map(lambda d: d.isoformat() + "Z"),
        )
    if kind == "blob":
        return st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
    raise ValueError(f"no strategy for shape type {kind}")


def _string(shape: Shape) -> st.SearchStrategy[str]:
    if "enum" in shape:
        return st.sampled_from(shape["enum"])
    low = int(shape.get("min", 0))
    high = max(low, min(int(shape.get("max", MAX_TEXT)), MAX_TEXT))
    text = st.text(min_size=low, max_size=high)
    pattern = _python_pattern(shape.get("pattern"))
    if pattern is None:
        return text
    matching = st.from_regex(pattern, fullmatch=True).map(lambda s: s[:high])
    # Mostly values that match (they reach the handlers), some that do not.
    return st.one_of(matching.filter(lambda s: len(s) >= low), matching, text)


def _python_pattern(java: str | None) -> re.Pattern[str] | None:
    if java is None:
        return None
    python = java
    for java_class, python_class in _CLASSES.items():
        python = python.replace(java_class, python_class)
    try:
        return re.compile(python)
    except re.error:
        return None


# Java's classes in botocore's patterns, as Python has them (close enough to generate from).
_CLASSES = {
    r"\p{L}": r"\w",
    r"\p{N}": r"\w",
    r"\p{Z}": r"\s",
    r"[\p{ASCII}]": r"[\x00-\x7f]",
    r"\p{ASCII}": r"[\x00-\x7f]",
    r"[\p{Print}]": r"[\x20-\x7e]",
    r"\p{Print}": r"[\x20-\x7e]",
    r"\z": r"\Z",
}


class _Break:
    """One way to break a valid value, chosen with the draws of `data`."""

    def __init__(self, value: Any, data: st.DataObject) -> None:
        self.value = copy.deepcopy(value)
        self.data = data

    def apply(self, shapes: Shapes, name: str, surely: bool) -> Any:
        how = self.data.draw(st.sampled_from(_BREAKS), label="break")
        value = how(self, shapes, name, list(_slots(self.value)))
        if surely and isinstance(value, dict):
            self.value = value
            value = self.drop_required(shapes, name, [])
        return value

    def drop_required(self, shapes: Shapes, name: str, _: list[Any]) -> Any:
        required = shapes.model.shapes[name].get("required", [])
        if not required:
            return self.wrong_type(shapes, name, list(_slots(self.value)))
        del_member = self.data.draw(st.sampled_from(required), label="dropped")
        self.value.pop(del_member, None)
        return self.value

    def unknown_member(self, shapes: Shapes, name: str, _: list[Any]) -> Any:
        key = self.data.draw(st.text(min_size=1, max_size=12), label="unknown")
        self.value[key] = self.data.draw(wrong_values(), label="unknown value")
        return self.value

    def wrong_type(self, shapes: Shapes, name: str, slots: list[Any]) -> Any:
        if not slots:
            return self.data.draw(wrong_values(), label="whole")
        container, key = self.data.draw(st.sampled_from(slots), label="slot")
        container[key] = self.data.draw(wrong_values(), label="wrong")
        return self.value

    def whole(self, shapes: Shapes, name: str, _: list[Any]) -> Any:
        return self.data.draw(wrong_values(), label="whole")


_BREAKS: list[Callable[[_Break, Shapes, str, list[Any]], Any]] = [
    _Break.drop_required,
    _Break.unknown_member,
    _Break.wrong_type,
    _Break.wrong_type,  # the richest: twice as often
    _Break.whole,
]


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every member, item and map value inside `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _slots(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _slots(item)
