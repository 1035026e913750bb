"""Parsing the KEY=VALUE arguments of the CLI (pure; errors name the argument to fix)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import typer

T = TypeVar("T", int, float)


def parse_pairs(items: Iterable[str], what: str, shape: str) -> dict[str, str]:
    """`["A=1", "B=2"]` → `{"A": "1", "B": "2"}`; BadParameter names `what` and the `shape`."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not {shape}", param_hint=what)
        if key in pairs:
            raise typer.BadParameter(f"{key} is given twice", param_hint=what)
        pairs[key] = value.strip()
    return pairs


def number(key: str, value: str, kind: type[T], what: str) -> T:
    """`value` as an int or float, or a BadParameter that shows `key=value`."""
    try:
        return kind(value)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise typer.BadParameter(
            f"{key}={value}: {value!r} is not {noun}", param_hint=what
        ) from None


def parse_numbers(items: Iterable[str], what: str, shape: str, kind: type[T]) -> dict[str, T]:
    """Like parse_pairs, with every value converted by `kind` (int or float)."""
    return {
        key: number(key, value, kind, what)
        for key, value in parse_pairs(items, what, shape).items()
    }
