"""Fuzzing CloudWatch's query protocol (a form posted to `/`): inputs generated from the
service model, serialized by botocore's own query serializer, then broken as forms break:
unknown keys, a wrong Action or Version, bad percent-encoding, list indexes of 10**9."""

from __future__ import annotations

import functools
import urllib.parse
from typing import Any

import httpx
from botocore.loaders import Loader
from botocore.model import OperationModel
from botocore.model import ServiceModel as BotocoreModel
from botocore.serialize import create_serializer
from hypothesis import strategies as st

from tests.fuzz import verdicts
from tests.fuzz.calls import Call
from tests.fuzz.runner import Report, fuzz
from tests.fuzz.strategies import Shapes
from turnout.api.cloudwatch.servicemodel import cloudwatch

FORM = "application/x-www-form-urlencoded; charset=utf-8"
_EXTRA = [
    "Action=NoSuchAction",
    "Version=2099-01-01",
    "Dimensions.member.1000000000.Name=x",
    "AlarmNames.member.999999999999999999999=x",
    "Metrics.member.1.MetricStat.Metric.Dimensions.member.1.Name=%FF%FE",
    "MaxRecords=1e400",
    "Threshold=NaN",
    "%ZZ=%",
    "=",
    "&&&",
]


@functools.cache
def _operation(name: str) -> OperationModel:
    raw = Loader().load_service_model("cloudwatch", "service-2")
    return BotocoreModel(raw, "cloudwatch").operation_model(name)


def _form(operation: str, params: Any) -> bytes:
    """botocore's form for `params`, or a bare Action when botocore refuses to serialize."""
    try:
        request = create_serializer("query").serialize_to_request(params, _operation(operation))
        return urllib.parse.urlencode(request["body"]).encode()
    except Exception:  # params broken on purpose: botocore cannot even write them
        return f"Action={operation}&Version=2010-08-01".encode()


def query_calls(shapes: Shapes, operation: str) -> st.SearchStrategy[Call]:
    name = shapes.input_of(operation)
    params = st.one_of(shapes.valid(name), shapes.invalid(name)) if name else st.just({})
    forms = params.map(functools.partial(_form, operation))
    extras = st.lists(st.sampled_from(_EXTRA), max_size=2).map(lambda e: "&".join(e).encode())
    return st.builds(
        lambda form, extra: Call("POST", "/", (("Content-Type", FORM),), form + b"&" + extra),
        forms,
        extras,
    )


def fuzz_query(http: httpx.Client, count: int | None = None) -> Report:
    model = cloudwatch()
    shapes = Shapes(model)
    report = Report()
    for operation in model.operations:
        # No output-shape check: query answers are XML, judged by status only.
        fuzz(query_calls(shapes, operation), lambda c: _verdict(c.send(http)), report, count)
    return report


def _verdict(answer: httpx.Response) -> str | None:
    problem = verdicts.status_only(answer, verdicts.AWS_JSON_STATUSES)
    if problem is None and answer.status_code != 200 and b"<Code>" not in answer.content:
        return f"query error without <Code>: {answer.text[:300]}"
    return problem
