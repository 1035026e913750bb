"""The List* request members, read into a pagination Query. Pure."""

from __future__ import annotations

from turnout.api.sagemaker.context import Params
from turnout.api.sagemaker.pagination import DEFAULT_MAX_RESULTS, Query
from turnout.api.sagemaker.shapes import parse_timestamp


def query_of(params: Params) -> Query:
    """Defaults as SageMaker's: newest first (CreationTime, Descending), 10 per page."""

    def time(member: str) -> float | None:
        value = params.get(member)
        return None if value is None else parse_timestamp(value)

    return Query(
        sort_by=params.get("SortBy", "CreationTime"),
        descending=params.get("SortOrder", "Descending") == "Descending",
        max_results=params.get("MaxResults", DEFAULT_MAX_RESULTS),
        next_token=params.get("NextToken"),
        name_contains=params.get("NameContains"),
        creation_time_before=time("CreationTimeBefore"),
        creation_time_after=time("CreationTimeAfter"),
        last_modified_time_before=time("LastModifiedTimeBefore"),
        last_modified_time_after=time("LastModifiedTimeAfter"),
        status_equals=params.get("StatusEquals"),
    )
