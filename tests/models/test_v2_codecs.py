"""The Open Inference Protocol's REST bodies: round trips, tritonclient.http as the other end,
and every malformed body answered with V2Error."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.tensors import same, tensors
from turnout.models.codecs import v2
from turnout.models.codecs.v2 import (
    InferRequest,
    RequestedOutput,
    Tensor,
    V2Error,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)

http = pytest.importorskip("tritonclient.http")
from tritonclient.http import _utils as triton_http_utils  # noqa: E402


def rejects(body: bytes | dict[str, Any], header_length: int | None = None) -> str:
    """The message of the V2Error(400) that decoding `body` raises."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    with pytest.raises(V2Error) as caught:
        decode_request(raw, header_length)
    assert caught.value.status == 400
    return caught.value.message


# -- round trips ------------------------------------------------------------------------


@given(st.lists(tensors(), min_size=1, max_size=4), st.booleans())
def test_a_request_round_trips_through_binary_data(drawn: list[Tensor], all_binary: bool) -> None:
    inputs = tuple(Tensor(f"in{i}", t.datatype, t.shape, t.data) for i, t in enumerate(drawn))
    request = InferRequest(
        inputs=inputs,
        outputs=(RequestedOutput("y", binary_data=False), RequestedOutput("z")),
        id="req-1",
        parameters={"priority": 2, "tag": "a", "ratio": 0.5, "flag": True},
        binary_data_output=all_binary,
    )
    body, header_length = encode_request(request)
    decoded = decode_request(body, header_length)
    assert decoded.id == "req-1"
    assert decoded.parameters == request.parameters
    assert decoded.binary_data_output is all_binary
    assert decoded.outputs == request.outputs
    assert [t.name for t in decoded.inputs] == [t.name for t in inputs]
    for got, sent in zip(decoded.inputs, inputs, strict=True):
        assert (got.datatype, got.shape, got.parameters) == (sent.datatype, sent.shape, {})
        assert same(got.data, sent.data)


@given(tensors(), st.booleans())
def test_a_response_round_trips_as_json_or_binary(tensor: Tensor, binary: bool) -> None:
    if tensor.datatype == "BYTES" and not binary:  # JSON carries text only
        tensor = Tensor(tensor.name, "BYTES", tensor.shape, _as_text(tensor.data))
    body, header_length = encode_response("m", "3", "id-7", {"y": tensor.data}, binary=binary)
    assert (header_length is not None) is binary
    response = decode_response(body, header_length)
    assert (response.model_name, response.model_version, response.id) == ("m", "3", "id-7")
    (out,) = response.outputs
    assert (out.name, out.datatype, out.shape) == ("y", tensor.datatype, tensor.shape)
    assert same(out.data, tensor.data)


def _as_text(data: np.ndarray) -> np.ndarray:
    text = np.empty(data.size, dtype=object)
    text[:] = [e.decode("latin-1").encode() for e in data.reshape(-1).tolist()]
    return text.reshape(data.shape)


def test_json_data_may_be_nested_row_major() -> None:
    body = {"inputs": [{"name": "x", "datatype": "INT32", "shape": [2, 3],
                        "data": [[1, 2, 3], [4, 5, 6]]}]}  # fmt: skip
    (x,) = decode_request(json.dumps(body).encode(), None).inputs
    assert x.data.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert x.data.dtype == np.dtype("<i4")


def test_outputs_are_typed_from_their_dtype() -> None:
    outputs = {
        "labels": np.array(["cat", "dog"]),
        "objects": np.array([b"\x00\xff", "t"], dtype=object),
        "p": np.array([[0.25, 0.75]], dtype=np.float32),
        "flag": np.array([True]),
        "half": np.array([1.5], dtype=np.float16),
    }
    body, header_length = encode_response("m", None, None, outputs, binary=True)
    doc = json.loads(body[:header_length])
    assert [(o["name"], o["datatype"]) for o in doc["outputs"]] == [
        ("labels", "BYTES"), ("objects", "BYTES"), ("p", "FP32"), ("flag", "BOOL"),
        ("half", "FP16"),
    ]  # fmt: skip
    assert "model_version" not in doc and "id" not in doc


def test_only_outputs_asked_as_binary_go_binary() -> None:
    request = InferRequest(
        inputs=(),
        outputs=(RequestedOutput("a", binary_data=True), RequestedOutput("b")),
        binary_data_output=False,
    )
    outputs = request.select({"b": np.array([1]), "a": np.array([2]), "c": np.array([3])})
    assert list(outputs) == ["a", "b"]
    body, header_length = encode_response("m", None, None, outputs, binary=request.wants_binary)
    assert header_length is not None
    doc = json.loads(body[:header_length])
    assert doc["outputs"][0]["parameters"] == {"binary_data_size": 8}
    assert doc["outputs"][1]["data"] == [1]
    assert body[header_length:] == struct.pack("<q", 2)


def test_selecting_an_output_the_model_lacks_says_which() -> None:
    request = InferRequest(inputs=(), outputs=(RequestedOutput("nope"),))
    with pytest.raises(V2Error, match="'nope' was requested but the model produces only 'y'"):
        request.select({"y": np.array([1])})


def test_request_level_binary_data_output_applies_unless_an_output_overrides() -> None:
    request = InferRequest(
        inputs=(), outputs=(RequestedOutput("a", binary_data=False),), binary_data_output=True
    )
    assert request.wants_binary("a") is False
    assert request.wants_binary("other") is True


def test_an_output_numpy_cannot_carry_in_the_protocol_is_a_500() -> None:
    with pytest.raises(V2Error) as caught:
        encode_response("m", None, None, {"z": np.array([1 + 2j])})
    assert caught.value.status == 500
    assert "complex128" in caught.value.message


def test_bytes_that_are_not_text_cannot_go_as_json() -> None:
    with pytest.raises(V2Error, match="binary_data"):
        encode_response("m", None, None, {"z": np.array([b"\xff"], dtype=object)})


def test_errors_encode_and_decode() -> None:
    assert json.loads(v2.encode_error("no such model")) == {"error": "no such model"}
    assert v2.decode_error(v2.encode_error("boom")) == "boom"
    assert v2.decode_error(b"<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"
    assert v2.decode_error(b"") != ""


# -- tritonclient.http at the other end -------------------------------------------------


def triton_request(
    arrays: dict[str, np.ndarray],
    binary: bool,
    outputs: list[Any] | None = None,
    **kwargs: Any,
) -> tuple[bytes, int | None]:
    inputs = []
    for name, array in arrays.items():
        item = http.InferInput(name, list(array.shape), v2.datatype_of(array.dtype))
        item.set_data_from_numpy(array, binary_data=binary)
        inputs.append(item)
    defaults: dict[str, Any] = {
        "request_id": "", "sequence_id": 0, "sequence_start": False, "sequence_end": False,
        "priority": 0, "timeout": None, "custom_parameters": None,
    }  # fmt: skip
    defaults.update(kwargs)
    body, json_size = triton_http_utils._get_inference_request(
        inputs=inputs, outputs=outputs, **defaults
    )
    return body, json_size


TRITON_ARRAYS = {
    "fp32": np.arange(8, dtype=np.float32).reshape(2, 4) / 3,
    "fp16": np.array([[0.5, -2.0, 65504.0]], dtype=np.float16),
    "fp64": np.array([1e300, -0.0]),
    "i8": np.array([-128, 127], dtype=np.int8),
    "i64": np.array([[-(2**63), 2**63 - 1]], dtype=np.int64),
    "u16": np.array([0, 65535], dtype=np.uint16),
    "u64": np.array([2**64 - 1], dtype=np.uint64),
    "bool": np.array([[True, False], [False, True]]),
    "text": np.array([["héllo", ""], ["w", "x y"]], dtype=object),
}


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_decodes_what_tritonclient_http_sends(binary: bool) -> None:
    outputs = [http.InferRequestedOutput("y", binary_data=False), http.InferRequestedOutput("z")]
    body, json_size = triton_request(
        TRITON_ARRAYS, binary, outputs, request_id="r1", priority=3,
        custom_parameters={"user": "u-1"},
    )  # fmt: skip
    assert (json_size is not None) is binary
    request = decode_request(body, json_size)
    assert request.id == "r1"
    assert request.parameters == {"priority": 3, "user": "u-1"}
    assert request.outputs == (RequestedOutput("y", False), RequestedOutput("z", True))
    for tensor in request.inputs:
        sent = TRITON_ARRAYS[tensor.name]
        if tensor.datatype == "BYTES":
            assert tensor.data.tolist() == np.vectorize(str.encode, otypes=[object])(sent).tolist()
        else:
            assert same(tensor.data, sent.astype(v2.DATATYPES[tensor.datatype]))


def test_tritonclient_http_without_outputs_asks_every_output_as_binary() -> None:
    body, json_size = triton_request({"x": np.zeros((1, 4), np.float32)}, binary=True)
    request = decode_request(body, json_size)
    assert request.binary_data_output is True
    assert request.wants_binary("anything") is True


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_http_reads_our_responses(binary: bool) -> None:
    body, header_length = encode_response("m", "1", "r1", TRITON_ARRAYS, binary=binary)
    result = http.InferResult.from_response_body(body, header_length=header_length)
    assert result.get_response()["model_name"] == "m"
    assert result.get_response()["id"] == "r1"
    for name, sent in TRITON_ARRAYS.items():
        got = result.as_numpy(name)
        assert got.shape == sent.shape
        if sent.dtype == object:
            expected = np.vectorize(str.encode, otypes=[object])(sent)
            assert [_as_bytes(e) for e in got.reshape(-1)] == expected.reshape(-1).tolist()
        else:
            assert same(got, sent)


def _as_bytes(element: object) -> bytes:
    # tritonclient reads binary BYTES as bytes, JSON BYTES as str.
    return element if isinstance(element, bytes) else str(element).encode()


def test_tritonclient_http_reads_a_mix_of_json_and_binary_outputs() -> None:
    outputs = {"a": np.array([1.5, 2.5]), "b": np.array([[7, 8]], dtype=np.int32)}
    body, header_length = encode_response("m", None, None, outputs, binary=lambda n: n == "b")
    result = http.InferResult.from_response_body(body, header_length=header_length)
    assert result.as_numpy("a").tolist() == [1.5, 2.5]
    assert result.as_numpy("b").tolist() == [[7, 8]]


# -- malformed requests -----------------------------------------------------------------


def x(**fields: Any) -> dict[str, Any]:
    """A request with one input "x" (FP32 [1, 2]) whose fields are overridden by `fields`."""
    tensor: dict[str, Any] = {"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}
    tensor.update(fields)
    return {"inputs": [{k: v for k, v in tensor.items() if v is not ...}]}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "body is empty"),
        (b"  \n", "body is empty"),
        (b"{nope", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1]", "must be a JSON object, not an array"),
        (b"[" * 100_000, "not valid JSON"),
        ({}, 'no "inputs"'),
        ({"inputs": {}}, '"inputs" must be a list'),
        ({"inputs": []}, '"inputs" is empty'),
        ({"inputs": [1]}, "inputs[0] must be an object"),
        (x(name=...), "inputs[0] needs a name"),
        (x(name=""), "inputs[0] needs a name"),
        (x(datatype="FP128"), "datatype 'FP128'; use one of BOOL"),
        (x(datatype=...), "datatype None"),
        (x(shape=...), "needs a shape"),
        (x(shape=[1, "2"]), "needs a shape"),
        (x(shape=[1.0, 2]), "needs a shape"),
        (x(shape=[-1, -2]), "dimensions cannot be negative"),
        (x(shape=[2**40, 2**40]), "more than the 16777216 elements allowed"),
        (x(shape=[0, 2**62]), "more than the 16777216 elements allowed"),
        (x(shape=[1] * 33), "33 dimensions"),
        (x(data=...), "has no data"),
        (x(data=[1, 2, 3]), "more than 2 values but input 'x''s shape [1, 2] needs 2"),
        (x(data=[1]), "has 1 values but shape [1, 2] needs 2"),
        (x(data=[1, "2"]), 'holds "2"; give numbers'),
        (x(data=[1, None]), "holds null; give numbers"),
        (x(data=[1, True]), "holds true; give numbers"),
        (x(data=[[1], {"a": 1}]), 'holds {"a": 1}'),
        (x(data=7), "must be a JSON array (flat or nested); input 'x''s shape"),
        (x(datatype="INT8", data=[1, 300]), "out of the range of INT8"),
        (x(datatype="UINT32", data=[1, -1]), "out of the range of UINT32"),
        (x(datatype="INT64", data=[1, 2**64]), "out of the range of INT64"),
        (x(datatype="INT32", data=[1, 2.5]), "holds 2.5; give integers"),
        (x(datatype="BOOL", data=[1, 0]), "holds 1; give true or false"),
        (x(datatype="BYTES", data=["a", 1]), "holds 1; give strings"),
        (x(datatype="BYTES", data=["a", "\ud800"]), "not valid Unicode"),
        (x(parameters=[1]), "parameters must be a JSON object"),
        (x(parameters={"k": [1]}), "parameter 'k' is an array"),
        (x(parameters={"shared_memory_region": "r"}), "shared memory"),
        (x(parameters={"binary_data_size": 8}), "both data and parameters.binary_data_size"),
        ({**x(), "inputs": x()["inputs"] * 2}, "input 'x' is given twice"),
        ({**x(), "id": 5}, '"id" must be a string'),
        ({**x(), "parameters": {"binary_data_output": "yes"}}, "binary_data_output must be"),
        ({**x(), "parameters": {"k": None}}, "parameter 'k' is null"),
        ({**x(), "outputs": {"name": "y"}}, '"outputs" must be a list'),
        ({**x(), "outputs": [{"nom": "y"}]}, "outputs[0] must be an object with a name"),
        ({**x(), "outputs": [{"name": "y"}, {"name": "y"}]}, "'y' is given twice"),
        ({**x(), "outputs": [{"name": "y", "parameters": {"binary_data": 1}}]}, "true or false"),
        ({**x(), "outputs": [{"name": "y", "parameters": {"classification": 3}}]}, "classif"),
    ],
)
def test_malformed_json_requests_say_what_is_wrong(
    body: bytes | dict[str, Any], needle: str
) -> None:
    assert needle in rejects(body)


def binary_body(header: dict[str, Any], payload: bytes) -> tuple[bytes, int]:
    raw = json.dumps(header).encode()
    return raw + payload, len(raw)


def binary_x(size: int, datatype: str = "FP32", shape: list[int] | None = None) -> dict[str, Any]:
    return x(data=..., datatype=datatype, shape=shape or [1, 2],
             parameters={"binary_data_size": size})  # fmt: skip


@pytest.mark.parametrize(
    ("header", "payload", "needle"),
    [
        (binary_x(8), b"\0" * 4, "declares 8 bytes of binary data but only 4 remain"),
        (binary_x(4), b"\0" * 4, "has 4 bytes of binary data, but shape [1, 2] of FP32 needs 8"),
        (binary_x(8), b"\0" * 12, "12 bytes after the JSON header but the inputs declare 8"),
        (x(), b"\0" * 3, "3 bytes after the JSON header but the inputs declare 0"),
        (binary_x(-1), b"", "binary_data_size must be a non-negative integer"),
        (binary_x(True), b"\0", "binary_data_size must be a non-negative integer"),  # type: ignore[arg-type]
        (binary_x(2, "BOOL"), b"\x01\x02", "bytes other than 0 and 1"),
        (binary_x(3, "BYTES", [1]), b"\x01\0\0", "ends inside a BYTES element's length"),
        (binary_x(6, "BYTES", [1]), b"\x09\0\0\0ab", "says 9 bytes but only 2 remain"),
        (binary_x(8, "BYTES", [1]), b"\0\0\0\0\0\0\0\0", "more BYTES elements"),
        (binary_x(5, "BYTES", [2]), b"\x01\0\0\0a", "1 BYTES elements in its binary data"),
    ],
)
def test_malformed_binary_requests_say_what_is_wrong(
    header: dict[str, Any], payload: bytes, needle: str
) -> None:
    body, header_length = binary_body(header, payload)
    assert needle in rejects(body, header_length)


@pytest.mark.parametrize(
    ("header_length", "needle"), [(0, "not supported"), (-3, "is -3"), (10**6, "is 1000000")]
)
def test_a_header_length_that_does_not_fit_the_body_is_rejected(
    header_length: int, needle: str
) -> None:
    body = json.dumps(x()).encode()
    assert needle in rejects(body, header_length)


def test_the_element_limit_counts_all_inputs() -> None:
    two = {"inputs": [x(shape=[3], data=[1, 2, 3])["inputs"][0],
                      {**x(shape=[3], data=[1, 2, 3])["inputs"][0], "name": "y"}]}  # fmt: skip
    with pytest.raises(V2Error, match="more than the 2 elements allowed"):
        decode_request(json.dumps(two).encode(), None, max_elements=5)


def test_binary_arrays_view_the_body_read_only() -> None:
    body, header_length = binary_body(binary_x(8), struct.pack("<2f", 1.5, 2.5))
    (tensor,) = decode_request(body, header_length).inputs
    assert tensor.data.tolist() == [[1.5, 2.5]]
    assert not tensor.data.flags.writeable


@settings(max_examples=300)
@given(st.binary(max_size=200), st.none() | st.integers(-5, 250))
def test_any_bytes_decode_or_raise_v2error(body: bytes, header_length: int | None) -> None:
    try:
        decode_request(body, header_length)
    except V2Error as err:
        assert err.status == 400 and err.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=10,
)  # fmt: skip
tensor_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=3) | json_values,
        "datatype": st.sampled_from(list(v2.DATATYPES)) | json_values,
        "shape": st.lists(st.integers(-2, 5), max_size=3) | json_values,
        "data": json_values,
        "parameters": st.dictionaries(st.sampled_from(["binary_data_size", "k"]),
                                      st.integers(-2, 20) | json_values, max_size=2),
    },
)  # fmt: skip


# Drawing nested JSON is slow on a busy machine; the test's speed is not its point.
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(tensor_fields, max_size=3),
    st.binary(max_size=40),
    st.dictionaries(st.sampled_from(["id", "parameters", "outputs"]), json_values),
)
def test_any_json_request_decodes_or_raises_v2error(
    inputs: list[dict[str, Any]], payload: bytes, extra: dict[str, Any]
) -> None:
    body, header_length = binary_body({"inputs": inputs, **extra}, payload)
    try:
        decode_request(body, header_length)
    except V2Error as err:
        assert err.status == 400 and err.message


def test_a_malformed_response_is_a_500() -> None:
    with pytest.raises(V2Error) as caught:
        decode_response(b'{"outputs": []}', None)
    assert caught.value.status == 500
    assert caught.value.message == (
        'the model\'s answer is not a valid inference response: it has no "model_name" string'
    )
