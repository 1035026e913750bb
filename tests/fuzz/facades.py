"""The fuzzers of turnout's AWS wire protocols, driven by botocore's service models:

- `fuzz_aws_json`: every operation of an AWS JSON facade (SageMaker, CloudWatch's JSON 1.0,
  CloudWatch Logs), with valid inputs, inputs broken inside, and requests broken on the wire.
- `fuzz_runtime`: InvokeEndpoint, its input shape mapped to the path, headers and body as
  botocore's rest-json protocol maps it, with bodies a model must refuse cleanly.

Each returns a `Report` of what it sent and every answer that broke a verdict.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import urllib.parse
from collections.abc import Collection, Sequence
from typing import Any

import httpx
from hypothesis import strategies as st

from tests.fuzz import verdicts
from tests.fuzz.calls import WIRE_BREAKS, Break, Call, aws_json, target_breaks
from tests.fuzz.runner import Report, examples, fuzz
from tests.fuzz.strategies import DEEP, HUGE_NUMBERS, Shapes, encode
from turnout.api.sagemaker.servicemodel import ServiceModel, prune


def _broken(calls: st.SearchStrategy[Call], breaks: Sequence[Break]) -> st.SearchStrategy[Call]:
    """Half the calls as they are, half broken in one of `breaks`."""
    return st.one_of(
        calls, st.builds(lambda c, b, d: b(c, d), calls, st.sampled_from(breaks), st.data())
    )


def aws_json_calls(
    shapes: Shapes, operation: str, version: str = "1.1", *, guarded: bool = False
) -> st.SearchStrategy[Call]:
    """Calls of `operation`; `guarded` ones are always invalid (their success has effects
    the fuzzer must not cause, such as starting model processes)."""
    name = shapes.input_of(operation)
    if name is None:
        params: st.SearchStrategy[Any] = st.just({})
    elif guarded:
        params = shapes.invalid(name, surely=True)
    else:
        params = st.one_of(shapes.valid(name), shapes.invalid(name))
    target = f"{shapes.model.target_prefix}.{operation}"
    calls = params.map(lambda p: aws_json(target, encode(p), version))
    return _broken(calls, [*WIRE_BREAKS, *target_breaks(shapes.model.target_prefix)])


def operation_of(call: Call, model: ServiceModel) -> str | None:
    target = dict((k.lower(), v) for k, v in call.headers).get("x-amz-target", "")
    service, _, operation = target.partition(".")
    return operation if service == model.target_prefix and operation in model.operations else None


def fuzz_aws_json(
    http: httpx.Client,
    model: ServiceModel,
    operations: Collection[str],
    *,
    guarded: Collection[str] = (),
    version: str = "1.1",
    count: int | None = None,
) -> Report:
    shapes = Shapes(model)
    report = Report()

    def probe(call: Call) -> str | None:
        return verdicts.aws_json(call.send(http), model, operation_of(call, model))

    for operation in operations:
        calls = aws_json_calls(shapes, operation, version, guarded=operation in guarded)
        fuzz(calls, probe, report, count)
    return report


@functools.cache
def runtime_model() -> ServiceModel:
    from botocore.loaders import Loader

    raw = Loader().load_service_model("sagemaker-runtime", "service-2")
    return prune({**raw, "metadata": {**raw["metadata"], "targetPrefix": ""}}, ("InvokeEndpoint",))


def _bodies(rows: bytes) -> st.SearchStrategy[bytes]:
    """Payloads: the model's own rows, and what a model must refuse with a 4xx."""
    numbers = st.sampled_from(HUGE_NUMBERS).map(lambda n: f"[[{n}]]".encode())
    return st.one_of(
        st.just(rows),
        st.sampled_from(
            [
                b"",
                b"[]",
                b"[[]]",
                b"{}",
                b"null",
                b"[[1,2]]",
                b'[["a"]]',
                b"1,2\n3",
                b"\xff\xfe\xc3(",
                DEEP.encode(),
                b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
                b'{"instances": [[1]]}',
                b"[" * 100 + b"]" * 100,
            ]
        ),
        numbers,
        st.binary(max_size=64),
        st.lists(st.lists(st.floats(allow_nan=False), min_size=1, max_size=70), max_size=3).map(
            lambda v: json.dumps(v).encode()
        ),
    )


_CONTENT_TYPES = [
    "application/json",
    "text/csv",
    "application/x-npy",
    "application/jsonlines",
    "text/plain",
    "application/octet-stream",
    "",
    "*/*",
    "application/json; x=1",
]


def runtime_calls(endpoint: str, variant: str, rows: bytes) -> st.SearchStrategy[Call]:
    """InvokeEndpoint calls built from the sagemaker-runtime input shape: each member where
    botocore puts it (`location` uri / header, the payload as the body)."""
    model = runtime_model()
    shapes = Shapes(model)
    members = model.shapes["InvokeEndpointInput"]["members"]
    overrides = {
        "EndpointName": st.one_of(
            st.just(endpoint), shapes.valid(members["EndpointName"]["shape"])
        ),
        "Body": _bodies(rows),
        "ContentType": st.one_of(st.sampled_from(_CONTENT_TYPES), shapes.valid("Header")),
        "TargetVariant": st.one_of(st.just(variant), shapes.valid("TargetVariantHeader")),
    }
    fields = {
        member: overrides.get(member, shapes.valid(spec["shape"]))
        for member, spec in members.items()
    }
    required = {"EndpointName", "Body"}
    params = st.fixed_dictionaries(
        {m: s for m, s in fields.items() if m in required},
        optional={m: s for m, s in fields.items() if m not in required},
    )
    calls = params.map(functools.partial(_rest_call, members))
    return _broken(calls, [WIRE_BREAKS[-1], _oversize_payload])  # method; payload over 6 MB


def _rest_call(members: dict[str, Any], params: dict[str, Any]) -> Call:
    headers = []
    for member, value in params.items():
        spec = members[member]
        if spec.get("location") == "header":
            headers.append((spec["locationName"], _header_text(value)))
    path = f"/endpoints/{urllib.parse.quote(params['EndpointName'], safe='')}/invocations"
    return Call("POST", path, tuple(headers), params["Body"])


def _header_text(value: str) -> str:
    """A header value HTTP can carry: no control characters, latin-1 as bytes are sent."""
    kept = "".join(c for c in value if " " <= c <= "~" or "\xa0" <= c <= "\xff")
    return kept.strip()


def _oversize_payload(call: Call, data: st.DataObject) -> Call:
    return dataclasses.replace(call, body=b"1" * (6 * 1024 * 1024 + 1), how="oversize")


def fuzz_runtime(
    http: httpx.Client, endpoint: str, variant: str, rows: bytes, count: int | None = None
) -> Report:
    """InvokeEndpoint: one operation with many inputs, so 10 x the cases per operation."""
    report = Report()
    calls = runtime_calls(endpoint, variant, rows)
    fuzz(calls, lambda c: verdicts.runtime(c.send(http)), report, count or 10 * examples())
    return report
