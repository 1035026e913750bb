"""The Open Inference Protocol's (KServe v2) tensors over HTTP/REST, with binary tensor data.

A body is JSON, or a JSON header followed by a binary section when the request says how long
the header is (`Inference-Header-Content-Length`): a tensor sent as binary names its size in
`parameters.binary_data_size`, and the sections follow in the order of the tensors. Binary
data is little-endian, row-major; a BOOL is one byte (0 or 1); a BYTES element is a 4-byte
little-endian length and its bytes. In JSON, `data` is flat or nested row-major and BYTES
elements are strings.

Pure: bytes in, values out, no I/O. Every problem with a body raises `V2Error` with a message
a person can act on; nothing else escapes. Decoded arrays of fixed-size types view the body
without copying, so they are read-only.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
Parameter = bool | int | float | str
Parameters = Mapping[str, Parameter]

# Name of the HTTP header that gives the JSON header's length when a binary section follows.
HEADER_LENGTH = "Inference-Header-Content-Length"
JSON_CONTENT_TYPE = "application/json"
BINARY_CONTENT_TYPE = "application/octet-stream"

DATATYPES: Mapping[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_DATATYPE_LIST = ", ".join(DATATYPES)
_BY_KIND = {(dtype.kind, dtype.itemsize): name for name, dtype in DATATYPES.items()}

# A request's tensors may hold this many elements in all: large enough for any body the
# router accepts, small enough that a shape can't make the server allocate gigabytes.
DEFAULT_MAX_ELEMENTS = 1 << 24
_MAX_DIMS = 32
_LENGTH = struct.Struct("<I")


class V2Error(Exception):
    """A body that breaks the protocol: `status` is the HTTP status to answer (400 for a
    request, 500 for a model's answer), `message` the text for the `error` field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, eq=False, slots=True)
class Tensor:
    """One named tensor; `data` has exactly `shape`, BYTES elements are `bytes` objects."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Array
    parameters: Parameters = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    """An output the caller asked for; `binary_data` None means it did not say."""

    name: str
    binary_data: bool | None = None
    parameters: Parameters = field(default_factory=dict)


@dataclass(frozen=True, eq=False, slots=True)
class InferRequest:
    """An inference request; `parameters` excludes the wire's own `binary_data_output`."""

    inputs: tuple[Tensor, ...]
    outputs: tuple[RequestedOutput, ...] = ()
    id: str | None = None
    parameters: Parameters = field(default_factory=dict)
    binary_data_output: bool = False

    def wants_binary(self, output: str) -> bool:
        """Whether to answer `output` as binary data: its own choice, else the request's."""
        for requested in self.outputs:
            if requested.name == output and requested.binary_data is not None:
                return requested.binary_data
        return self.binary_data_output

    def select(self, produced: Mapping[str, Any]) -> dict[str, Any]:
        """The outputs to answer with: all the model produced, or those asked for, in order."""
        if not self.outputs:
            return dict(produced)
        missing = [o.name for o in self.outputs if o.name not in produced]
        if missing:
            raise V2Error(
                400,
                f"output {missing[0]!r} was requested but the model produces only "
                f"{', '.join(map(repr, produced)) or 'nothing'}",
            )
        return {o.name: produced[o.name] for o in self.outputs}


@dataclass(frozen=True, eq=False, slots=True)
class InferResponse:
    """An inference answer as read back from a response body."""

    model_name: str
    outputs: tuple[Tensor, ...]
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters = field(default_factory=dict)


# -- requests ---------------------------------------------------------------------------


def decode_request(
    body: bytes, header_length: int | None, *, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> InferRequest:
    """Decode an inference request body; `header_length` is Inference-Header-Content-Length."""
    doc, binary = _split(body, header_length, "request")
    request_id = _optional_str(doc, "id", "the request")
    parameters = _parameters(doc.get("parameters"), "the request")
    binary_data_output = parameters.pop("binary_data_output", False)
    if not isinstance(binary_data_output, bool):
        raise V2Error(400, "the request's parameters.binary_data_output must be true or false")
    if "inputs" not in doc:
        raise V2Error(400, 'the request has no "inputs": give a list of input tensors')
    inputs = _tensors(doc["inputs"], binary, "input", max_elements)
    if not inputs:
        raise V2Error(400, 'the request\'s "inputs" is empty: give at least one input tensor')
    return InferRequest(
        inputs=inputs,
        outputs=_requested_outputs(doc.get("outputs")),
        id=request_id,
        parameters=parameters,
        binary_data_output=binary_data_output,
    )


def encode_request(request: InferRequest) -> tuple[bytes, int]:
    """A request body with every input as binary data; returns (body, header length)."""
    doc: dict[str, Any] = {}
    if request.id is not None:
        doc["id"] = request.id
    parameters = dict(request.parameters)
    if request.binary_data_output:
        parameters["binary_data_output"] = True
    if parameters:
        doc["parameters"] = parameters
    entries, chunks = [], []
    for tensor in request.inputs:
        raw = encode_tensor_data(tensor.datatype, tensor.data)
        entries.append(_binary_entry(tensor, len(raw)))
        chunks.append(raw)
    doc["inputs"] = entries
    if request.outputs:
        doc["outputs"] = [_requested_entry(output) for output in request.outputs]
    header = _dumps(doc)
    return b"".join([header, *chunks]), len(header)


# -- responses --------------------------------------------------------------------------


def encode_response(
    model_name: str,
    model_version: str | None,
    request_id: str | None,
    outputs: Mapping[str, Any],
    *,
    binary: bool | Callable[[str], bool] = False,
    parameters: Parameters | None = None,
) -> tuple[bytes, int | None]:
    """Encode a model's outputs (arrays, by name); returns (body, header length or None).

    `binary` says which outputs go as binary data: all, none, or per name (pass the
    request's `wants_binary`). The header length is None when nothing is binary.
    """
    doc: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        doc["model_version"] = model_version
    if request_id is not None:
        doc["id"] = request_id
    if parameters:
        doc["parameters"] = dict(parameters)
    entries, chunks = [], []
    for name, value in outputs.items():
        tensor = tensor_of(name, value)
        if binary(name) if callable(binary) else binary:
            raw = encode_tensor_data(tensor.datatype, tensor.data)
            entries.append(_binary_entry(tensor, len(raw)))
            chunks.append(raw)
        else:
            entries.append(_json_entry(tensor))
    doc["outputs"] = entries
    header = _dumps(doc)
    if not chunks:
        return header, None
    return b"".join([header, *chunks]), len(header)


def decode_response(
    body: bytes, header_length: int | None, *, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> InferResponse:
    """Read an inference response body back; a malformed one raises V2Error(500, ...)."""
    try:
        doc, binary = _split(body, header_length, "response")
        model_name = doc.get("model_name")
        if not isinstance(model_name, str):
            raise V2Error(500, 'it has no "model_name" string')
        if "outputs" not in doc:
            raise V2Error(500, 'it has no "outputs"')
        return InferResponse(
            model_name=model_name,
            outputs=_tensors(doc["outputs"], binary, "output", max_elements),
            model_version=_optional_str(doc, "model_version", "the response"),
            id=_optional_str(doc, "id", "the response"),
            parameters=_parameters(doc.get("parameters"), "the response"),
        )
    except V2Error as err:
        raise V2Error(500, f"the model's answer is not a valid inference response: {err}") from None


def encode_error(message: str) -> bytes:
    """The protocol's error body."""
    return _dumps({"error": message})


def decode_error(body: bytes) -> str:
    """The message of an error body; any other body's text, so no failure is ever silent."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return str(doc["error"])
    text = body[:1000].decode("utf-8", "replace").strip()
    return text or "the server answered with an error and no message"


# -- tensors ----------------------------------------------------------------------------


def tensor_of(name: str, value: Any, parameters: Parameters | None = None) -> Tensor:
    """A tensor from an array-like; its datatype follows the dtype (text and objects: BYTES)."""
    try:
        data = np.asarray(value)
    except ValueError as err:  # ragged lists
        raise V2Error(500, f"output {name!r} is not an array: {err}") from None
    datatype = datatype_of(data.dtype)
    if datatype is None:
        raise V2Error(
            500,
            f"output {name!r} has dtype {data.dtype}, which the Open Inference Protocol cannot "
            f"carry; return one of {_DATATYPE_LIST}",
        )
    if datatype == "BYTES" and data.dtype != object:
        data = data.astype(object)
    return Tensor(name, datatype, tuple(data.shape), data, dict(parameters or {}))


def datatype_of(dtype: np.dtype[Any]) -> str | None:
    """The protocol's datatype for a numpy dtype, or None if it has none."""
    if dtype.kind in "OUS":
        return "BYTES"
    return _BY_KIND.get((dtype.kind, dtype.itemsize))


def encode_tensor_data(datatype: str, data: Array) -> bytes:
    """A tensor's binary data: little-endian, row-major; BYTES length-prefixed."""
    if datatype != "BYTES":
        return np.ascontiguousarray(data, dtype=DATATYPES[datatype]).tobytes()
    parts = []
    for element in np.asarray(data, dtype=object).reshape(-1).tolist():
        raw = _element_bytes(element)
        if len(raw) > 0xFFFFFFFF:
            raise V2Error(500, "a BYTES element is longer than 4 GiB")
        parts.append(_LENGTH.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def decode_tensor_data(
    name: str, datatype: str, shape: Sequence[int], raw: bytes | memoryview, what: str = "input"
) -> Array:
    """An array of `shape` from a tensor's binary data; checks the size and, for BOOL and
    BYTES, each element. `shape` must be checked already (`check_shape`)."""
    where = f"{what} {name!r}"
    count = math.prod(shape)
    dtype = DATATYPES[datatype]
    if datatype == "BYTES":
        return _bytes_elements(raw, count, where).reshape(shape)
    if len(raw) != count * dtype.itemsize:
        raise V2Error(
            400,
            f"{where} has {len(raw)} bytes of binary data, but shape {list(shape)} of "
            f"{datatype} needs {count * dtype.itemsize}",
        )
    if datatype == "BOOL":
        octets = np.frombuffer(raw, dtype=np.uint8)
        if octets.size and int(octets.max()) > 1:
            raise V2Error(
                400, f"{where} is BOOL but its binary data holds bytes other than 0 and 1"
            )
        return octets.view(np.bool_).reshape(shape)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def check_datatype(datatype: object, where: str) -> str:
    """A checked datatype: one of DATATYPES."""
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise V2Error(400, f"{where} has datatype {datatype!r}; use one of {_DATATYPE_LIST}")
    return datatype


def check_shape(shape: object, where: str, limit: int = DEFAULT_MAX_ELEMENTS) -> tuple[int, ...]:
    """A checked shape: a list of non-negative integers with at most `limit` elements."""
    if not isinstance(shape, list | tuple) or not all(type(d) is int for d in shape):
        raise V2Error(400, f"{where} needs a shape: a list of integers such as [1, 4]")
    if len(shape) > _MAX_DIMS:
        raise V2Error(400, f"{where} has {len(shape)} dimensions; at most {_MAX_DIMS} are allowed")
    if any(d < 0 for d in shape):
        raise V2Error(400, f"{where} has shape {list(shape)}; dimensions cannot be negative")
    if math.prod(shape) > limit or any(d > limit for d in shape):
        raise V2Error(
            400,
            f"{where} has shape {list(shape)}: more than the {limit} elements allowed "
            "(in all tensors of one request)",
        )
    return tuple(shape)


def _bytes_elements(raw: bytes | memoryview, count: int, where: str) -> Array:
    view = memoryview(raw)
    elements: list[bytes] = []
    offset, end = 0, len(view)
    while offset < end:
        if len(elements) == count:
            raise V2Error(400, f"{where} has more BYTES elements in its binary data than its shape")
        if end - offset < 4:
            raise V2Error(400, f"{where}'s binary data ends inside a BYTES element's length")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if length > end - offset:
            raise V2Error(
                400,
                f"{where}'s BYTES element {len(elements)} says {length} bytes but only "
                f"{end - offset} remain",
            )
        elements.append(bytes(view[offset : offset + length]))
        offset += length
    if len(elements) != count:
        raise V2Error(
            400,
            f"{where} has {len(elements)} BYTES elements in its binary data but its shape "
            f"needs {count}",
        )
    array = np.empty(count, dtype=object)
    array[:] = elements
    return array


def _element_bytes(element: object) -> bytes:
    if isinstance(element, bytes):
        return element
    return _element_text(element).encode("utf-8", "surrogatepass")


def _element_text(element: object) -> str:
    """A BYTES element as JSON text; bytes must be UTF-8 (UnicodeDecodeError otherwise)."""
    if isinstance(element, bytes):
        return element.decode("utf-8")
    return element if isinstance(element, str) else str(element)


# -- JSON documents ---------------------------------------------------------------------


def _split(body: bytes, header_length: int | None, what: str) -> tuple[dict[str, Any], memoryview]:
    """The JSON header as a dict, and the binary section after it."""
    if header_length is None:
        header, binary = body, memoryview(b"")
    elif header_length == 0:
        raise V2Error(
            400,
            f"{HEADER_LENGTH}: 0 (a body of raw tensor bytes with no JSON header) is not "
            "supported; send the JSON header first and give its length",
        )
    elif not 0 < header_length <= len(body):
        raise V2Error(
            400,
            f"{HEADER_LENGTH} is {header_length} but the body has {len(body)} bytes",
        )
    else:
        header, binary = body[:header_length], memoryview(body)[header_length:]
    if not header or header.isspace():
        raise V2Error(400, f"the {what} body is empty; send a JSON inference {what}")
    try:
        doc = json.loads(header)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError
        where = "JSON header" if header_length is not None else "body"
        raise V2Error(400, f"the {what}'s {where} is not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise V2Error(400, f"the {what} must be a JSON object, not {_json_type(doc)}")
    return doc, binary


def _tensors(items: object, binary: memoryview, what: str, max_elements: int) -> tuple[Tensor, ...]:
    """Tensors of a request's inputs or a response's outputs; binary ones take their bytes
    from the binary section in order, which they must use up exactly."""
    if not isinstance(items, list):
        raise V2Error(400, f'"{what}s" must be a list of tensors')
    tensors: list[Tensor] = []
    names: set[str] = set()
    budget, offset = max_elements, 0
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise V2Error(400, f"{what}s[{index}] must be an object with name, datatype, shape")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise V2Error(400, f"{what}s[{index}] needs a name (a non-empty string)")
        where = f"{what} {name!r}"
        if name in names:
            raise V2Error(400, f"{where} is given twice; tensor names must be unique")
        names.add(name)
        datatype = check_datatype(item.get("datatype"), where)
        shape = check_shape(item.get("shape"), where, budget)
        budget -= math.prod(shape)
        parameters = _parameters(item.get("parameters"), where)
        if "shared_memory_region" in parameters:
            raise V2Error(400, f"{where} uses shared memory, which is not supported; send its data")
        size = parameters.pop("binary_data_size", None)
        if size is not None:
            if "data" in item:
                raise V2Error(
                    400, f"{where} has both data and parameters.binary_data_size; send one"
                )
            if type(size) is not int or size < 0:
                raise V2Error(
                    400, f"{where}'s parameters.binary_data_size must be a non-negative integer"
                )
            if size > len(binary) - offset:
                raise V2Error(
                    400,
                    f"{where} declares {size} bytes of binary data but only "
                    f"{len(binary) - offset} remain in the body after the JSON header",
                )
            data = decode_tensor_data(name, datatype, shape, binary[offset : offset + size], what)
            offset += size
        elif "data" in item:
            data = _from_json(item["data"], datatype, shape, where)
        else:
            raise V2Error(
                400,
                f"{where} has no data: give data, or parameters.binary_data_size and its bytes "
                "after the JSON header",
            )
        tensors.append(Tensor(name, datatype, shape, data, parameters))
    if offset != len(binary):
        raise V2Error(
            400,
            f"the body has {len(binary)} bytes after the JSON header but the {what}s declare "
            f"{offset} (parameters.binary_data_size)",
        )
    return tuple(tensors)


def _requested_outputs(items: object) -> tuple[RequestedOutput, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise V2Error(400, '"outputs" must be a list of {"name": ...} objects')
    outputs: list[RequestedOutput] = []
    names: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise V2Error(400, f"outputs[{index}] must be an object with a name")
        name = item["name"]
        where = f"requested output {name!r}"
        if name in names:
            raise V2Error(400, f"{where} is given twice")
        names.add(name)
        parameters = _parameters(item.get("parameters"), where)
        binary_data = parameters.pop("binary_data", None)
        if binary_data is not None and not isinstance(binary_data, bool):
            raise V2Error(400, f"{where}'s parameters.binary_data must be true or false")
        if "shared_memory_region" in parameters:
            raise V2Error(400, f"{where} asks for shared memory, which is not supported")
        if parameters.get("classification", 0):
            raise V2Error(400, f"{where} asks for classification, which is not supported")
        outputs.append(RequestedOutput(name, binary_data, parameters))
    return tuple(outputs)


def _parameters(value: object, where: str) -> dict[str, Parameter]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise V2Error(400, f"{where}'s parameters must be a JSON object")
    for key, item in value.items():
        if not isinstance(item, bool | int | float | str):
            raise V2Error(
                400,
                f"{where}'s parameter {key!r} is {_json_type(item)}; parameters are strings, "
                "numbers or booleans",
            )
    return dict(value)


def _optional_str(doc: Mapping[str, Any], key: str, where: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise V2Error(400, f'{where}\'s "{key}" must be a string')
    return value


def _from_json(data: object, datatype: str, shape: tuple[int, ...], where: str) -> Array:
    count = math.prod(shape)
    values = _flatten(data, count, f"{where}'s shape {list(shape)} needs {count}")
    if len(values) != count:
        raise V2Error(
            400, f"{where} has {len(values)} values but shape {list(shape)} needs {count}"
        )
    kinds = set(map(type, values))
    allowed = _JSON_KINDS[datatype]
    if not kinds <= allowed:
        bad = next(v for v in values if type(v) not in allowed)
        raise V2Error(
            400, f"{where} is {datatype} but its data holds {_short(bad)}; {_EXPECTED[datatype]}"
        )
    if datatype == "BYTES":
        array = np.empty(count, dtype=object)
        try:
            array[:] = [v.encode("utf-8") for v in values]
        except UnicodeEncodeError:
            raise V2Error(400, f"{where} holds a string that is not valid Unicode") from None
        return array.reshape(shape)
    try:
        return np.array(values, dtype=DATATYPES[datatype]).reshape(shape)
    except OverflowError:
        raise V2Error(400, f"{where} holds a value out of the range of {datatype}") from None


def _flatten(data: object, limit: int, needs: str) -> list[Any]:
    """Row-major elements of flat or nested lists; stops past `limit` elements."""
    if not isinstance(data, list):
        raise V2Error(400, f"the data must be a JSON array (flat or nested); {needs}")
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
            if len(out) > limit:
                raise V2Error(400, f"the data has more than {limit} values but {needs}")
        else:
            stack.pop()
    return out


_INTS = frozenset({int})
_JSON_KINDS: Mapping[str, frozenset[type]] = {
    "BOOL": frozenset({bool}),
    **{name: _INTS for name in DATATYPES if name.startswith(("INT", "UINT"))},
    **{name: frozenset({int, float}) for name in ("FP16", "FP32", "FP64")},
    "BYTES": frozenset({str}),
}
_EXPECTED: Mapping[str, str] = {
    "BOOL": "give true or false",
    **{name: "give integers" for name in DATATYPES if name.startswith(("INT", "UINT"))},
    **{name: "give numbers" for name in ("FP16", "FP32", "FP64")},
    "BYTES": "give strings (or send binary data for bytes that are not text)",
}


def _json_entry(tensor: Tensor) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": tensor.name,
        "datatype": tensor.datatype,
        "shape": list(tensor.shape),
    }
    if tensor.parameters:
        entry["parameters"] = dict(tensor.parameters)
    flat = tensor.data.reshape(-1).tolist()
    if tensor.datatype == "BYTES":
        try:
            flat = [_element_text(v) for v in flat]
        except UnicodeDecodeError:
            raise V2Error(
                400,
                f"output {tensor.name!r} holds bytes that are not UTF-8 text, which JSON cannot "
                "carry; request it as binary data (parameters.binary_data: true)",
            ) from None
    entry["data"] = flat
    return entry


def _binary_entry(tensor: Tensor, size: int) -> dict[str, Any]:
    return {
        "name": tensor.name,
        "datatype": tensor.datatype,
        "shape": list(tensor.shape),
        "parameters": {**tensor.parameters, "binary_data_size": size},
    }


def _requested_entry(output: RequestedOutput) -> dict[str, Any]:
    parameters = dict(output.parameters)
    if output.binary_data is not None:
        parameters["binary_data"] = output.binary_data
    entry: dict[str, Any] = {"name": output.name}
    if parameters:
        entry["parameters"] = parameters
    return entry


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
