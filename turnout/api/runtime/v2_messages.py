"""The v2 gRPC service's protobuf messages to the REST codec's values and back. Pure.

A ModelInferRequest becomes an `InferRequest` whose every output is asked as binary data, so
the answer maps onto `raw_output_contents` without a detour through JSON. Inputs come as
`raw_input_contents` (what tritonclient sends) or as typed `contents`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import numpy as np

from turnout.api.runtime.v2_proto import grpc_predict_v2_pb2 as pb
from turnout.models.codecs.v2 import (
    DATATYPES,
    DEFAULT_MAX_ELEMENTS,
    Array,
    InferRequest,
    InferResponse,
    Parameter,
    RequestedOutput,
    Tensor,
    V2Error,
    check_datatype,
    check_shape,
    decode_tensor_data,
    encode_tensor_data,
)

# The `InferTensorContents` field that carries each datatype; FP16 travels only raw.
CONTENTS_FIELD: Mapping[str, str] = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_INT64 = range(-(2**63), 2**63)
_UINT64 = range(2**64)


def infer_request(
    message: pb.ModelInferRequest, *, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> InferRequest:
    """The request as the REST codec's value, every output asked as binary data."""
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise V2Error(
            400,
            f"raw_input_contents has {len(raw)} entries but the request has "
            f"{len(message.inputs)} inputs; give one per input, in order",
        )
    inputs = []
    budget = max_elements
    for index, item in enumerate(message.inputs):
        where = f"input {item.name!r}" if item.name else f"inputs[{index}]"
        check_datatype(item.datatype, where)
        shape = check_shape(list(item.shape), where, budget)
        budget -= math.prod(shape)
        if raw:
            if item.HasField("contents"):
                raise V2Error(
                    400,
                    f"{where} has contents but the request uses "
                    "raw_input_contents; send one or the other",
                )
            data = decode_tensor_data(item.name, item.datatype, shape, raw[index])
        else:
            data = _from_contents(item, shape, where)
        inputs.append(Tensor(item.name, item.datatype, shape, data, parameters(item.parameters)))
    request_parameters = parameters(message.parameters)
    request_parameters.pop("binary_data_output", None)
    return InferRequest(
        inputs=tuple(inputs),
        outputs=tuple(
            RequestedOutput(output.name, True, _without(parameters(output.parameters)))
            for output in message.outputs
        ),
        id=message.id or None,
        parameters=request_parameters,
        binary_data_output=True,
    )


def infer_response(response: InferResponse) -> pb.ModelInferResponse:
    """The answer as a ModelInferResponse with `raw_output_contents`."""
    message = pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version or "",
        id=response.id or "",
    )
    set_parameters(message.parameters, response.parameters)
    for tensor in response.outputs:
        output = message.outputs.add(name=tensor.name, datatype=tensor.datatype)
        output.shape.extend(tensor.shape)
        set_parameters(output.parameters, tensor.parameters)
        message.raw_output_contents.append(encode_tensor_data(tensor.datatype, tensor.data))
    return message


def server_metadata(doc: Mapping[str, Any]) -> pb.ServerMetadataResponse:
    """From the REST object `{"name", "version", "extensions"}`."""
    try:
        return pb.ServerMetadataResponse(
            name=doc["name"], version=doc.get("version", ""), extensions=doc.get("extensions", [])
        )
    except (KeyError, TypeError, ValueError) as err:
        raise V2Error(500, f"the server metadata is malformed: {err!r}") from None


def model_metadata(doc: Mapping[str, Any]) -> pb.ModelMetadataResponse:
    """From the REST object `{"name", "versions", "platform", "inputs", "outputs"}`."""
    try:
        message = pb.ModelMetadataResponse(
            name=doc["name"], versions=doc.get("versions", []), platform=doc.get("platform", "")
        )
        for field, tensors in (
            ("inputs", doc.get("inputs", [])),
            ("outputs", doc.get("outputs", [])),
        ):
            for tensor in tensors:
                getattr(message, field).add(
                    name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
                )
        return message
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise V2Error(500, f"the model metadata is malformed: {err!r}") from None


def parameters(entries: Mapping[str, pb.InferParameter]) -> dict[str, Parameter]:
    """A protobuf parameter map as plain values; an unset parameter is left out."""
    values: dict[str, Parameter] = {}
    for key, entry in entries.items():
        choice = entry.WhichOneof("parameter_choice")
        if choice is not None:
            values[key] = getattr(entry, choice)
    return values


def set_parameters(
    entries: MutableMapping[str, pb.InferParameter], values: Mapping[str, Parameter]
) -> None:
    """Fill a protobuf parameter map; an integer beyond int64 goes as uint64."""
    for key, value in values.items():
        entry = entries[key]
        if isinstance(value, bool):
            entry.bool_param = value
        elif isinstance(value, int) and value in _INT64:
            entry.int64_param = value
        elif isinstance(value, int) and value in _UINT64:
            entry.uint64_param = value
        elif isinstance(value, int | float):
            entry.double_param = float(value)
        else:
            entry.string_param = str(value)


def _from_contents(
    item: pb.ModelInferRequest.InferInputTensor, shape: tuple[int, ...], where: str
) -> Array:
    count = math.prod(shape)
    field = CONTENTS_FIELD.get(item.datatype)
    if field is None:
        raise V2Error(
            400,
            f"{where} is {item.datatype}, which has no typed contents field; "
            "send it in raw_input_contents",
        )
    values: Iterable[Any] = getattr(item.contents, field)
    present = [descriptor.name for descriptor, _ in item.contents.ListFields()]
    if any(name != field for name in present):
        raise V2Error(
            400,
            f"{where} is {item.datatype} but its contents fill {', '.join(present)}; use {field}",
        )
    values = list(values)
    if len(values) != count:
        raise V2Error(
            400,
            f"{where} has {len(values)} values in contents.{field} but shape "
            f"{list(shape)} needs {count}",
        )
    if item.datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = values
        return array.reshape(shape)
    try:
        return np.array(values, dtype=DATATYPES[item.datatype]).reshape(shape)
    except OverflowError:
        raise V2Error(400, f"{where} holds a value out of the range of {item.datatype}") from None


def _without(values: dict[str, Parameter]) -> dict[str, Parameter]:
    """A requested output's parameters less the binary choice, which the adapter makes."""
    values.pop("binary_data", None)
    return values
