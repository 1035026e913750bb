"""Fuzzing an API from its OpenAPI document with schemathesis: for every operation, cases
that fit the document (positive) and cases that break it (negative), each answer checked by
schemathesis' own checks. Collected in a `Report`, as the botocore-model fuzzers do."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import httpx
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

from tests.fuzz import verdicts
from tests.fuzz.calls import Call
from tests.fuzz.runner import Report, fuzz
from tests.fuzz.strategies import DEEP
from turnout.experiments.service import FEEDBACK_MAX_BYTES

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


# Bodies schemathesis never sends: broken below the JSON level, or past the size bound.
WIRE_BODIES: dict[str, tuple[bytes, str]] = {
    "bad-utf8": (b'{"name":"\xff\xfe\xc3("}', "application/json"),
    "cut": (b'{"name":"fu', "application/json"),
    "deep": (DEEP.encode(), "application/json"),
    "deep-objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json"),
    "huge-numbers": (b'{"name":1e400,"weight":-1e400,"count":' + str(2**70).encode() + b"}",
                     "application/json"),
    "oversize": (b'{"name":"' + b"x" * FEEDBACK_MAX_BYTES + b'"}', "application/json"),
    "not-json": (b"name=fuzz", "application/x-www-form-urlencoded"),
    "no-type": (b'{"name":"fuzz"}', ""),
}  # fmt: skip


def fuzz_rest_wire(http: httpx.Client, document: dict[str, Any]) -> Report:
    """Every operation of the OpenAPI `document` that takes a body, sent each of
    WIRE_BODIES: no 5xx, a status the document lists for it, turnout's error shape."""
    report = Report()
    for path, operations in document["paths"].items():
        for method, spec in operations.items():
            if "requestBody" not in spec:
                continue
            url = re.sub(r"\{[^}]+\}", "fuzz-x", path)
            for how, (body, content_type) in WIRE_BODIES.items():
                call = Call(method.upper(), url, (("Content-Type", content_type),), body, how)
                report.cases += 1
                problem = _rest_verdict(call.send(http), spec["responses"])
                if problem is not None:
                    report.add(call, f"{method.upper()} {path}: {problem}")
    return report


def _rest_verdict(answer: httpx.Response, documented: dict[str, Any]) -> str | None:
    problem = verdicts.status_only(answer, {int(s) for s in documented if s.isdigit()})
    if problem is not None:
        return problem
    error = answer.json().get("error") if answer.status_code >= 400 else {"code": "", "message": ""}
    if not isinstance(error, dict) or not all(
        isinstance(error.get(k), str) for k in ("code", "message")
    ):
        return f"error without error.code and error.message: {answer.text[:300]}"
    return None
