"""List* filters, sort orders and NextToken pages, as SageMaker has them. Pure.

A NextToken holds the sort key of the last item returned (not an offset), so the next
page starts right after it even if items were created or deleted in between: nothing is
skipped or repeated that existed throughout. The token is opaque to callers; one made
for another sort order is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from turnout.api.sagemaker.errors import validation_error

T = TypeVar("T")

DEFAULT_MAX_RESULTS = 10  # ListModels, ListEndpointConfigs, ListEndpoints


@dataclass(frozen=True)
class Item(Generic[T]):
    """One listed resource: what filters and sorts look at, and what to answer with."""

    name: str
    creation_time: float
    value: T
    last_modified_time: float | None = None
    status: str | None = None


@dataclass(frozen=True)
class Query:
    sort_by: str = "CreationTime"  # Name | CreationTime | Status
    descending: bool = True
    max_results: int = DEFAULT_MAX_RESULTS
    next_token: str | None = None
    name_contains: str | None = None
    creation_time_before: float | None = None
    creation_time_after: float | None = None
    last_modified_time_before: float | None = None
    last_modified_time_after: float | None = None
    status_equals: str | None = None


def matches(item: Item[Any], query: Query) -> bool:
    if query.name_contains and query.name_contains.lower() not in item.name.lower():
        return False
    windows = (
        (item.creation_time, query.creation_time_after, query.creation_time_before),
        (item.last_modified_time, query.last_modified_time_after, query.last_modified_time_before),
    )
    for value, after, before in windows:
        if after is not None and not (value is not None and value > after):
            return False
        if before is not None and not (value is not None and value < before):
            return False
    return query.status_equals is None or item.status == query.status_equals


def page(items: Sequence[Item[T]], query: Query) -> tuple[list[T], str | None]:
    """The page of `items` that `query` asks for, and the NextToken of the next (or None)."""
    key = _sort_key(query.sort_by)
    chosen = sorted((i for i in items if matches(i, query)), key=key, reverse=query.descending)
    if query.next_token is not None:
        after = _decode(query.next_token, query)
        chosen = [i for i in chosen if (key(i) < after if query.descending else key(i) > after)]
    taken = chosen[: query.max_results]
    token = _encode(key(taken[-1]), query) if len(chosen) > len(taken) else None
    return [i.value for i in taken], token


def _sort_key(sort_by: str) -> Callable[[Item[Any]], tuple[Any, str]]:
    if sort_by == "Name":
        return lambda i: (i.name, i.name)
    if sort_by == "Status":
        return lambda i: (i.status or "", i.name)
    return lambda i: (i.creation_time, i.name)


def _encode(key: tuple[Any, str], query: Query) -> str:
    raw = json.dumps([query.sort_by, query.descending, *key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(token: str, query: Query) -> tuple[Any, str]:
    try:
        sort_by, descending, value, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise validation_error("Invalid pagination token.") from None
    expected = float if query.sort_by == "CreationTime" else str
    if (
        sort_by != query.sort_by
        or descending != query.descending
        or not isinstance(name, str)
        or not isinstance(value, expected if expected is str else (int, float))
    ):
        raise validation_error(
            "Invalid pagination token: it was made for another SortBy or SortOrder."
        )
    return (value, name)
