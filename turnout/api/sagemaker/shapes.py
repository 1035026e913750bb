"""Checking a request against the service model, with AWS's own wording. Pure.

A value of the wrong JSON type is a SerializationException, as AWS answers it; broken
constraints (required, length, range, enum, pattern) are one ValidationException that
lists them all: "2 validation errors detected: Value 'x' at 'endpointName' failed to
satisfy constraint: Member must satisfy regular expression pattern: ...; Value ...".
Members the model does not know are ignored, as AWS does.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from turnout.api.sagemaker.errors import AwsError, serialization_error, validation_error
from turnout.api.sagemaker.servicemodel import ServiceModel, Shape

MAX_REPORTED = 10  # problems listed in one message; the count still says how many
_MAX_VALUE_CHARS = 200


class _Problems:
    def __init__(self) -> None:
        self.constraints: list[str] = []
        self.types: list[str] = []

    def constraint(self, path: str, value: Any, rule: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.constraints.append(f"Value {shown} at '{path}' failed to satisfy constraint: {rule}")

    def type(self, path: str, expected: str, value: Any) -> None:
        self.types.append(f"Expected {expected} at '{path}', got {_json_type(value)}.")


def check(model: ServiceModel, shape_name: str, value: Any) -> None:
    """Raise the AwsError AWS would answer for `value` as an instance of `shape_name`."""
    problems = _Problems()
    _check(model.shapes, shape_name, value, "", problems)
    raise_for(problems)


def without_nulls(model: ServiceModel, shape_name: str, value: Any) -> Any:
    """`value` (checked) without its null structure members, at any depth: AWS reads
    `"MaxRecords": null` as no MaxRecords, so handlers see the member absent and their
    defaults apply (`params.get("MaxRecords", 50)` must not give None)."""
    shape = model.shapes[shape_name]
    kind = shape["type"]
    if kind == "structure" and isinstance(value, dict):
        members = shape.get("members", {})
        return {
            key: without_nulls(model, members[key]["shape"], item) if key in members else item
            for key, item in value.items()
            if item is not None
        }
    if kind == "list" and isinstance(value, list):
        return [without_nulls(model, shape["member"]["shape"], item) for item in value]
    if kind == "map" and isinstance(value, dict):
        member = shape["value"]["shape"]
        return {key: without_nulls(model, member, item) for key, item in value.items()}
    return value


def raise_for(problems: _Problems) -> None:
    if problems.types:
        raise serialization_error(" ".join(problems.types[:MAX_REPORTED]))
    if problems.constraints:
        raise constraint_error(problems.constraints)


def constraint_error(found: list[str]) -> AwsError:
    count = len(found)
    noun = "error" if count == 1 else "errors"
    return validation_error(
        f"{count} validation {noun} detected: " + "; ".join(found[:MAX_REPORTED])
    )


def _check(
    shapes: Mapping[str, Shape], name: str, value: Any, path: str, problems: _Problems
) -> None:
    shape = shapes[name]
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            problems.type(path or "request", "an object", value)
            return
        for member, spec in shape.get("members", {}).items():
            child = f"{path}.{_camel(member)}" if path else _camel(member)
            item = value.get(member)
            if item is None:
                if member in shape.get("required", ()):
                    problems.constraint(child, None, "Member must not be null")
                continue
            _check(shapes, spec["shape"], item, child, problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.type(path, "a list", value)
            return
        _length(shape, value, path, problems)
        for index, item in enumerate(value[: shape.get("max", len(value))], start=1):
            item_path = f"{path}.{index}.member"
            if item is None:
                problems.constraint(item_path, None, "Member must not be null")
            else:
                _check(shapes, shape["member"]["shape"], item, item_path, problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.type(path, "an object", value)
            return
        _length(shape, value, path, problems)
        for key, item in list(value.items())[: shape.get("max", len(value))]:
            _check(shapes, shape["key"]["shape"], key, path, problems)
            if item is None:
                problems.constraint(f"{path}.{key}", None, "Member must not be null")
            else:
                _check(shapes, shape["value"]["shape"], item, f"{path}.{key}", problems)
    else:
        _check_scalar(shape, kind, value, path, problems)


def _check_scalar(shape: Shape, kind: str, value: Any, path: str, problems: _Problems) -> None:
    if kind == "string":
        if not isinstance(value, str):
            problems.type(path, "a string", value)
            return
        if _length(shape, value, path, problems):
            return  # a pattern on an over-long value says nothing more (and costs time)
        enum = shape.get("enum")
        if enum is not None and value not in enum:
            rule = f"Member must satisfy enum value set: [{', '.join(enum)}]"
            problems.constraint(path, value, rule)
        elif "pattern" in shape and not _pattern(shape["pattern"]).fullmatch(value):
            rule = f"Member must satisfy regular expression pattern: {shape['pattern']}"
            problems.constraint(path, value, rule)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.type(path, "an integer", value)
        else:
            _range(shape, value, path, problems)
    elif kind in ("float", "double"):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            problems.type(path, "a number", value)
        else:
            _range(shape, value, path, problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.type(path, "true or false", value)
    elif kind == "timestamp" and parse_timestamp(value) is None:
        problems.type(path, "a timestamp (seconds since the epoch)", value)


def _length(shape: Shape, value: Any, path: str, problems: _Problems) -> bool:
    """Check min/max length; True if broken."""
    if "max" in shape and len(value) > shape["max"]:
        rule = f"Member must have length less than or equal to {shape['max']}"
        problems.constraint(path, value, rule)
        return True
    if "min" in shape and len(value) < shape["min"]:
        rule = f"Member must have length greater than or equal to {shape['min']}"
        problems.constraint(path, value, rule)
        return True
    return False


def _range(shape: Shape, value: float, path: str, problems: _Problems) -> None:
    if "max" in shape and value > shape["max"]:
        rule = f"Member must have value less than or equal to {_number(shape['max'])}"
        problems.constraint(path, value, rule)
    elif "min" in shape and value < shape["min"]:
        rule = f"Member must have value greater than or equal to {_number(shape['min'])}"
        problems.constraint(path, value, rule)


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds from a JSON timestamp (a number, as boto3 sends, or ISO 8601)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.timestamp()
    return None


@functools.cache
def _pattern(java: str) -> re.Pattern[str]:
    """A botocore (Java) pattern as a Python regex.

    `[\\p{L}\\p{Z}\\p{N}...]` (tag keys and values) becomes `[\\w\\s...]`: letters and
    digits are `\\w` in Python's Unicode mode, spaces `\\s`; close to Java's classes.
    """
    python = java.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w").replace(r"\p{Z}", r"\s")
    return re.compile(python)


def _camel(member: str) -> str:
    return member[:1].lower() + member[1:]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string '{_show(value)}'"
    if isinstance(value, list):
        return "a list"
    return "an object"
