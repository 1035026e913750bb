"""The three wire protocols CloudWatch speaks, decoded into and encoded from the same
Python values (timestamps: epoch seconds in, aware datetimes out). Pure.

- Smithy RPC v2 CBOR (botocore's default): `POST /service/<prefix>/operation/<Op>`,
  `smithy-protocol: rpc-v2-cbor`, CBOR both ways, timestamps as tag 1 (epoch seconds).
- AWS JSON 1.0: `POST /`, `X-Amz-Target: <prefix>.<Op>`, JSON, timestamps as epoch numbers.
- query: `POST /` with a form `Action=<Op>&Version=2010-08-01&...` (lists flattened as
  `Dimensions.member.1.Name`), answered in XML in CloudWatch's namespace.

Decoding the form needs the input shape (every value arrives as a string); encoding XML
needs the output shape (member order, lists as `<member>`, maps as `<entry>`).
"""

from __future__ import annotations

import datetime
import json
import math
import urllib.parse
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape

import cbor2

from turnout.api.cloudwatch.errors import CloudWatchError, invalid_action, invalid_parameter
from turnout.api.cloudwatch.servicemodel import API_VERSION, TARGET_PREFIX, XML_NAMESPACE
from turnout.api.sagemaker.servicemodel import ServiceModel, Shape
from turnout.api.sagemaker.shapes import parse_timestamp

CBOR_PATH = f"/service/{TARGET_PREFIX}/operation/"
MAX_REQUEST_BYTES = 1024 * 1024  # CloudWatch's own limit for a request is 1 MB
MAX_FORM_FIELDS = 20_000  # a form's flattened members; bounds the decoding work
MAX_DEPTH = 16  # CBOR/JSON nesting (the deepest input shape is 5 levels)


class Kind(StrEnum):
    CBOR = "rpc-v2-cbor"
    JSON = "json"
    QUERY = "query"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def kind_of(path: str, target: str) -> Kind:
    if path.startswith(CBOR_PATH):
        return Kind.CBOR
    return Kind.JSON if target else Kind.QUERY


def operation_of(kind: Kind, path: str, target: str, form: Mapping[str, str]) -> str:
    if kind is Kind.CBOR:
        return path[len(CBOR_PATH) :]
    if kind is Kind.JSON:
        service, dot, operation = target.partition(".")
        if service != TARGET_PREFIX or not dot:
            raise invalid_action(target)
        return operation
    return form.get("Action", "")


def parse_form(body: bytes) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid_parameter(f"The request body is not a valid form: {exc}.") from None
    return dict(pairs)


def decode(kind: Kind, body: bytes, model: ServiceModel, shape: str | None, form: Any) -> Any:
    """The request's parameters as plain values (timestamps: epoch seconds)."""
    if kind is Kind.QUERY:
        if form.get("Version", API_VERSION) != API_VERSION:
            raise invalid_parameter(f"Version must be {API_VERSION}.")
        if shape is None:
            return {}
        return _from_form(model.shapes, shape, "", _Form(form), 0)
    if not body.strip():
        return {}
    try:
        value = cbor2.loads(body) if kind is Kind.CBOR else json.loads(body)
    except Exception as exc:  # cbor2 raises several types on bad input; all mean the same
        raise invalid_parameter(f"The request body is not valid {kind.value}: {exc}.") from None
    if not isinstance(value, dict):
        raise invalid_parameter("The request body must be an object.")
    return _plain(value, 0)


def _plain(value: Any, depth: int) -> Any:
    """CBOR's datetimes as epoch seconds; bounded depth (a bomb of nested lists is refused)."""
    if depth > MAX_DEPTH:
        raise invalid_parameter(f"The request nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    return value


class _Form:
    """A flattened form and, for each dotted prefix of its keys, the next parts below it,
    so decoding takes time linear in the form's size (no scan of every key per member)."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.values = form
        self.below: dict[str, set[str]] = defaultdict(set)
        for key in form:
            parts = key.split(".")
            for i in range(1, len(parts)):
                self.below[".".join(parts[:i])].add(parts[i])

    def has(self, key: str) -> bool:
        return key in self.values or key in self.below

    def indices(self, prefix: str) -> list[int]:
        """The list positions under `prefix` (`X.member.1`, ...), which count from 1."""
        found = []
        for part in self.below.get(prefix, ()):
            if not part.isdigit() or int(part) < 1:
                raise invalid_parameter(
                    f"{prefix}.{part} is not a list member (they count from 1)."
                )
            found.append(int(part))
        return sorted(found)


def _from_form(shapes: Mapping[str, Shape], name: str, prefix: str, form: _Form, depth: int) -> Any:
    """The value of shape `name` flattened under `prefix` (None: absent)."""
    if depth > MAX_DEPTH:
        return None
    shape = shapes[name]
    kind = shape["type"]
    dot = f"{prefix}." if prefix else ""
    if kind == "structure":
        found = {}
        for member, spec in shape.get("members", {}).items():
            key = dot + spec.get("locationName", member)
            if form.has(key):
                value = _from_form(shapes, spec["shape"], key, form, depth + 1)
                if value is not None:
                    found[member] = value
        return found
    if kind == "list":
        if form.values.get(prefix) == "":
            return []  # botocore's way of sending an empty list
        member = shape["member"]["shape"]
        return [
            _from_form(shapes, member, f"{prefix}.member.{i}", form, depth + 1)
            for i in form.indices(f"{prefix}.member")
        ]
    if kind == "map":
        key_shape, value_shape = shape["key"]["shape"], shape["value"]["shape"]
        return {
            _from_form(shapes, key_shape, f"{prefix}.entry.{i}.key", form, depth + 1):
            _from_form(shapes, value_shape, f"{prefix}.entry.{i}.value", form, depth + 1)
            for i in form.indices(f"{prefix}.entry")
        }  # fmt: skip
    text = form.values.get(prefix)
    return None if text is None else _scalar(kind, text, prefix)


def _scalar(kind: str, text: str, name: str) -> Any:
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("double", "float"):
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            return number
    except ValueError:
        raise invalid_parameter(f"Invalid value '{text}' for {name}: not a number.") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise invalid_parameter(f"Invalid value '{text}' for {name}: use true or false.")
        return text.lower() == "true"
    if kind == "timestamp":
        epoch = parse_timestamp(text)
        if epoch is None:
            raise invalid_parameter(f"Invalid value '{text}' for {name}: not an ISO 8601 time.")
        return epoch
    return text


# --- answers ------------------------------------------------------------------------------
def answer(kind: Kind, model: ServiceModel, operation: str, value: Mapping[str, Any]) -> Reply:
    request_id = str(uuid.uuid4())
    if kind is Kind.CBOR:
        body = cbor2.dumps(dict(value), datetime_as_timestamp=True)
        return Reply(200, body, _headers(kind, body, request_id))
    if kind is Kind.JSON:
        body = json.dumps(value, default=_json_default, separators=(",", ":")).encode()
        return Reply(200, body, _headers(kind, body, request_id))
    spec = model.operations[operation].get("output")
    result = ""
    if spec is not None:
        inner = _xml_members(model.shapes, spec["shape"], value)
        result = f"<{operation}Result>{inner}</{operation}Result>"
    body = (
        f'<{operation}Response xmlns="{XML_NAMESPACE}">{result}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()
    return Reply(200, body, _headers(kind, body, request_id))


def error(kind: Kind, err: CloudWatchError) -> Reply:
    request_id = str(uuid.uuid4())
    if kind is Kind.QUERY:
        body = (
            f'<ErrorResponse xmlns="{XML_NAMESPACE}"><Error><Type>{err.fault}</Type>'
            f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    else:
        document = {"__type": err.shape, "message": err.message}
        body = cbor2.dumps(document) if kind is Kind.CBOR else json.dumps(document).encode()
    headers = _headers(kind, body, request_id)
    if kind is not Kind.QUERY:
        headers.append((b"x-amzn-query-error", f"{err.code};{err.fault}".encode()))
    return Reply(err.status, body, headers)


_CONTENT_TYPES = {
    Kind.CBOR: b"application/cbor",
    Kind.JSON: b"application/x-amz-json-1.0",
    Kind.QUERY: b"text/xml",
}


def _headers(kind: Kind, body: bytes, request_id: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", _CONTENT_TYPES[kind]),
        (b"content-length", b"%d" % len(body)),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    if kind is Kind.CBOR:
        headers.append((b"smithy-protocol", b"rpc-v2-cbor"))
    return headers


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _xml_members(shapes: Mapping[str, Shape], name: str, value: Mapping[str, Any]) -> str:
    parts = []
    for member, spec in shapes[name].get("members", {}).items():
        if value.get(member) is not None:
            tag = spec.get("locationName", member)
            parts.append(f"<{tag}>{_xml(shapes, spec['shape'], value[member])}</{tag}>")
    return "".join(parts)


def _xml(shapes: Mapping[str, Shape], name: str, value: Any) -> str:
    shape = shapes[name]
    kind = shape["type"]
    if kind == "structure":
        return _xml_members(shapes, name, value)
    if kind == "list":
        member = shape["member"]["shape"]
        return "".join(f"<member>{_xml(shapes, member, item)}</member>" for item in value)
    if kind == "map":
        key, item = shape["key"]["shape"], shape["value"]["shape"]
        return "".join(
            f"<entry><key>{_xml(shapes, key, k)}</key><value>{_xml(shapes, item, v)}</value>"
            "</entry>"
            for k, v in value.items()
        )
    if kind == "timestamp":
        return str(value.isoformat().replace("+00:00", "Z"))
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("double", "float"):
        return repr(float(value))
    return escape(str(value))
