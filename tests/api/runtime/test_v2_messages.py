"""Protobuf messages of the v2 gRPC service to the REST codec's values and back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.tensors import same, tensors
from turnout.api.runtime import v2_messages
from turnout.api.runtime.v2_grpc import headers_of, status_code
from turnout.api.runtime.v2_proto import grpc_predict_v2_pb2 as pb
from turnout.models.codecs.v2 import (
    InferResponse,
    Tensor,
    V2Error,
    decode_request,
    encode_request,
    encode_tensor_data,
)

tritongrpc = pytest.importorskip("tritonclient.grpc")


def request_of(*inputs: Tensor) -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name="m")
    for tensor in inputs:
        message.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        message.raw_input_contents.append(encode_tensor_data(tensor.datatype, tensor.data))
    return message


def rejects(message: pb.ModelInferRequest) -> str:
    with pytest.raises(V2Error) as caught:
        v2_messages.infer_request(message)
    assert caught.value.status == 400
    return caught.value.message


@given(st.lists(tensors(), min_size=1, max_size=3))
def test_raw_inputs_reach_the_rest_body_unchanged(drawn: list[Tensor]) -> None:
    inputs = [Tensor(f"in{i}", t.datatype, t.shape, t.data) for i, t in enumerate(drawn)]
    message = request_of(*inputs)
    message.id = "r1"
    message.parameters["priority"].uint64_param = 2
    message.outputs.add(name="y").parameters["binary_data"].bool_param = False
    body, header_length = encode_request(v2_messages.infer_request(message))
    request = decode_request(body, header_length)
    assert (request.id, request.parameters) == ("r1", {"priority": 2})
    assert request.wants_binary("y") and request.wants_binary("any other")
    for got, sent in zip(request.inputs, inputs, strict=True):
        assert (got.name, got.datatype, got.shape) == (sent.name, sent.datatype, sent.shape)
        assert same(got.data, sent.data)


@given(st.lists(tensors(), max_size=3))
def test_tritonclient_grpc_reads_our_responses(drawn: list[Tensor]) -> None:
    outputs = tuple(Tensor(f"out{i}", t.datatype, t.shape, t.data) for i, t in enumerate(drawn))
    message = v2_messages.infer_response(
        InferResponse("m", outputs, "1", "r1", {"sequence_id": 2**64 - 1, "f": 0.5})
    )
    theirs = tritongrpc.service_pb2.ModelInferResponse.FromString(message.SerializeToString())
    result = tritongrpc.InferResult(theirs)
    assert result.get_response().parameters["sequence_id"].uint64_param == 2**64 - 1
    for tensor in outputs:
        got = result.as_numpy(tensor.name)
        assert got.shape == tensor.shape
        if tensor.datatype == "BYTES":
            assert got.tolist() == tensor.data.tolist()
        else:
            assert same(got, tensor.data)


CONTENTS: dict[str, tuple[list[Any], Any]] = {
    "BOOL": ([True, False], np.bool_),
    "INT8": ([-128, 127], np.int8),
    "INT16": ([-3, 4], np.int16),
    "INT32": ([-(2**31), 2**31 - 1], np.int32),
    "INT64": ([-(2**63), 2**63 - 1], np.int64),
    "UINT8": ([0, 255], np.uint8),
    "UINT16": ([0, 65535], np.uint16),
    "UINT32": ([0, 2**32 - 1], np.uint32),
    "UINT64": ([0, 2**64 - 1], np.uint64),
    "FP32": ([0.5, -2.0], np.float32),
    "FP64": ([1e300, -0.0], np.float64),
    "BYTES": ([b"\xff\x00", b""], object),
}


@pytest.mark.parametrize("datatype", list(CONTENTS))
def test_typed_contents_of_every_datatype(datatype: str) -> None:
    values, dtype = CONTENTS[datatype]
    message = pb.ModelInferRequest(model_name="m")
    item = message.inputs.add(name="x", datatype=datatype, shape=[1, 2])
    getattr(item.contents, v2_messages.CONTENTS_FIELD[datatype]).extend(values)
    (tensor,) = v2_messages.infer_request(message).inputs
    assert tensor.data.dtype == dtype
    assert tensor.data.tolist() == [values]


@pytest.mark.parametrize(
    ("datatype", "shape", "field", "values", "message"),
    [
        ("FP16", [1], "fp32_contents", [], "input 'x' is FP16, which has no typed contents "
         "field; send it in raw_input_contents"),
        ("FP32", [2], "fp64_contents", [1, 2], "input 'x' is FP32 but its contents fill "
         "fp64_contents; use fp32_contents"),
        ("INT64", [3], "int64_contents", [1], "input 'x' has 1 values in "
         "contents.int64_contents but shape [3] needs 3"),
        ("INT8", [1], "int_contents", [300], "input 'x' holds a value out of the range of INT8"),
    ],
)  # fmt: skip
def test_bad_typed_contents_say_what_to_do(
    datatype: str, shape: list[int], field: str, values: list[Any], message: str
) -> None:
    request = pb.ModelInferRequest(model_name="m")
    item = request.inputs.add(name="x", datatype=datatype, shape=shape)
    getattr(item.contents, field).extend(values)
    assert rejects(request) == message


def test_raw_contents_must_match_the_inputs() -> None:
    x = Tensor("x", "FP32", (1,), np.zeros(1, np.float32))
    message = request_of(x, Tensor("y", "FP32", (1,), np.zeros(1, np.float32)))
    del message.raw_input_contents[1]
    assert "raw_input_contents has 1 entries but the request has 2 inputs" in rejects(message)
    message = request_of(x)
    message.inputs[0].contents.fp32_contents.append(1.0)
    assert "send one or the other" in rejects(message)


@pytest.mark.parametrize(
    ("datatype", "shape", "needle"),
    [
        ("FP8", [1], "datatype 'FP8'"),
        ("FP32", [-1], "dimensions cannot be negative"),
        ("FP32", [2**40, 2**40], "more than the 16777216 elements allowed"),
    ],
)
def test_bad_datatypes_and_shapes(datatype: str, shape: list[int], needle: str) -> None:
    message = pb.ModelInferRequest(model_name="m")
    message.inputs.add(name="x", datatype=datatype, shape=shape)
    message.raw_input_contents.append(b"")
    assert needle in rejects(message)


def test_metadata_from_the_rest_objects() -> None:
    doc = {
        "name": "m",
        "versions": ["1"],
        "platform": "sklearn",
        "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 64]}],
        "outputs": [{"name": "y", "datatype": "INT64", "shape": [-1]}],
    }
    message = v2_messages.model_metadata(doc)
    assert (message.name, list(message.versions), message.platform) == ("m", ["1"], "sklearn")
    assert list(message.inputs[0].shape) == [-1, 64]
    assert message.outputs[0].datatype == "INT64"
    server = v2_messages.server_metadata({"name": "turnout", "version": "1", "extensions": ["a"]})
    assert (server.name, server.version, list(server.extensions)) == ("turnout", "1", ["a"])


@pytest.mark.parametrize(
    "doc",
    [{}, {"name": 3}, {"name": "m", "inputs": [{"name": "x"}]}, {"name": "m", "inputs": 5}],
)
def test_malformed_metadata_is_a_500(doc: dict[str, Any]) -> None:
    with pytest.raises(V2Error) as caught:
        v2_messages.model_metadata(doc)
    assert caught.value.status == 500


def test_parameters_round_trip() -> None:
    values = {"b": True, "i": -(2**63), "u": 2**64 - 1, "f": 0.25, "s": "text"}
    entries = pb.ModelInferRequest().parameters
    v2_messages.set_parameters(entries, values)
    assert v2_messages.parameters(entries) == values
    assert entries["u"].WhichOneof("parameter_choice") == "uint64_param"


def test_headers_from_grpc_metadata() -> None:
    metadata = [
        ("x-turnout-user", "u-1"),
        ("trace-bin", b"\x00\x01"),
        ("user-agent", "grpc-python/1.67"),
        ("grpc-accept-encoding", "gzip"),
        (":authority", "localhost"),
    ]
    assert headers_of(metadata) == [
        (b"x-turnout-user", b"u-1"),
        (b"trace-bin", b"\x00\x01"),
        (b"user-agent", b"grpc-python/1.67"),
    ]
    assert headers_of(None) == []


def test_status_codes() -> None:
    assert [status_code(s).name for s in (400, 404, 503, 500, 424, 413)] == [
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "UNAVAILABLE",
        "INTERNAL",
        "INTERNAL",
        "INTERNAL",
    ]
