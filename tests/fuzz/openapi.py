"""Fuzzing an API from its OpenAPI document with schemathesis: for every operation, cases
that fit the document (positive) and cases that break it (negative), each answer checked by
schemathesis' own checks. Collected in a `Report`, as the botocore-model fuzzers do."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import requests
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.runner import Report, fuzz

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_openapi(
    schema: BaseSchema,
    base_url: str | None = None,
    *,
    guarded: Collection[tuple[str, str]] = (),
    count: int | None = None,
) -> Report:
    """Every operation of `schema`, positive and negative; `guarded` (method, path) pairs
    negative only (their success would start model processes)."""
    report = Report()
    session = requests.Session() if base_url is not None else None

    def probe(case: Any) -> str | None:
        try:
            response = case.call(base_url=base_url, session=session, timeout=30)
        except Exception as failed:  # an app in-process raises what a server answers as 500
            return f"{case.operation.label} raised (a 500 from a server): {failed!r}"
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup, AssertionError) as failed:
            return f"{case.operation.label} -> {response.status_code}: {failed}"[:1500]
        return None

    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        modes = [] if key in guarded else [GenerationMode.POSITIVE]
        # A path parameter that takes any string cannot be broken: hypothesis would search
        # for seconds before giving up. A body or a query can.
        if len(operation.body) or len(operation.query):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                fuzz(operation.as_strategy(generation_mode=mode), probe, report, count)
            except Unsatisfiable:  # nothing in this query or body to break
                assert mode is GenerationMode.NEGATIVE, operation.label
    return report
