"""Request bodies to arrays and predictions to response bodies, and Accept negotiation.

Three wire types, as SageMaker's scikit-learn container speaks them: JSON, CSV and .npy.
Inputs decode to float64 arrays of rows (a flat array is one row); .npy keeps its dtype.
Everything here is pure and cheap: lookups by header value are cached because the same few
header values repeat on every request.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from turnout.models.errors import InvocationError
from turnout.models.runtime import Call, Prediction

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
SUPPORTED = (JSON, CSV, NPY)  # also the server's preference order
_SUPPORTED_TEXT = ", ".join(SUPPORTED)

Array = np.ndarray[Any, Any]


def media_type(content_type: str) -> str:
    """`Text/CSV; charset=utf-8` -> `text/csv`."""
    return content_type.partition(";")[0].strip().lower()


class ArrayBodies:
    """The BodyCodec of models that take rows of numbers: JSON, CSV or .npy in, the best
    type Accept allows out. Accept is checked before decoding: a 406 costs no predict."""

    __slots__ = ()

    def decode(self, call: Call) -> Array:
        call.context = negotiate(call.accept)
        return decode(call.body, call.content_type)

    def encode(self, call: Call, outputs: object) -> Prediction:
        media = call.context or negotiate(call.accept)
        return Prediction(_ENCODERS[media](outputs), media)


# -- decoding ---------------------------------------------------------------------------


def decode(body: bytes, content_type: str | None) -> Array:
    """Decode a request body into a 2-D (or higher, for .npy) array; None means JSON."""
    return _decoder(content_type)(body)


def rows(data: object, what: str) -> Array:
    """Parsed JSON `data` as float64 rows (a flat list is one row); 400 naming `what`."""
    try:
        array = np.asarray(data, dtype=np.float64)
    except (ValueError, TypeError):
        raise InvocationError(
            400, f"{what} must hold numbers: one row, or a list of rows of equal length"
        ) from None
    return _shaped(array, what)


def _shaped(array: Array, what: str) -> Array:
    if array.ndim == 0:
        raise InvocationError(400, f"{what} must be an array (one row, or a list of rows)")
    if array.size == 0:
        raise InvocationError(400, f"{what} has no values")
    return array.reshape(1, -1) if array.ndim == 1 else array


def parse_json(body: bytes) -> Any:
    """A JSON body parsed; 400 when it is empty or not JSON."""
    if not body or body.isspace():
        raise InvocationError(400, "the request body is empty")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError, deep
        raise InvocationError(400, f"the request body is not valid JSON: {err}") from None


def _decode_json(body: bytes) -> Array:
    data = parse_json(body)
    if isinstance(data, dict):
        if "instances" not in data:
            raise InvocationError(400, 'a JSON object body must be {"instances": [...]}')
        data = data["instances"]
    return rows(data, "the JSON body")


def _decode_csv(body: bytes) -> Array:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvocationError(400, "the text/csv body is not UTF-8") from None
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append([float(cell) for cell in line.split(",")])
        except ValueError:
            raise InvocationError(
                400,
                f"text/csv line {number} is not comma-separated numbers (no header row): "
                f"{line[:60]!r}",
            ) from None
    if not rows:
        raise InvocationError(400, "the request body is empty")
    width = len(rows[0])
    for number, row in enumerate(rows, 1):
        if len(row) != width:
            raise InvocationError(
                400, f"text/csv row {number} has {len(row)} values, row 1 has {width}"
            )
    return np.array(rows, dtype=np.float64)


def decode_npy(body: bytes) -> Array:
    """An application/x-npy body as its array (dtype kept, a flat array is one row)."""
    try:
        loaded = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as err:  # numpy raises ValueError, OSError, EOFError... on bad input
        raise InvocationError(400, f"the body is not a .npy array: {err}") from None
    if not isinstance(loaded, np.ndarray):  # an .npz archive
        loaded.close()
        raise InvocationError(400, "the body is an .npz archive; send one .npy array")
    return _shaped(loaded, "the .npy array")


_DECODERS: dict[str, Callable[[bytes], Array]] = {
    JSON: _decode_json,
    CSV: _decode_csv,
    NPY: decode_npy,
}


@lru_cache(maxsize=64)
def _decoder(content_type: str | None) -> Callable[[bytes], Array]:
    if not content_type:
        return _decode_json
    decoder = _DECODERS.get(media_type(content_type))
    if decoder is None:
        raise InvocationError(
            415, f"Content-Type {content_type!r} is not supported; use one of {_SUPPORTED_TEXT}"
        )
    return decoder


# -- encoding ---------------------------------------------------------------------------


def encode(prediction: object, accept: str | None) -> tuple[bytes, str]:
    """Encode a prediction as the best type `accept` allows; returns (body, content type)."""
    media = negotiate(accept)
    return _ENCODERS[media](prediction), media


def encode_as(prediction: object, media: str) -> bytes:
    """Encode a prediction as `media`, one of SUPPORTED (already negotiated)."""
    return _ENCODERS[media](prediction)


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _encode_json(prediction: object) -> bytes:
    data = prediction.tolist() if isinstance(prediction, np.ndarray) else prediction
    try:
        return json.dumps(data, default=_json_default, separators=(",", ":")).encode()
    except (TypeError, ValueError) as err:
        raise InvocationError(500, f"cannot write the prediction as JSON: {err}") from None


def _encode_csv(prediction: object) -> bytes:
    _one_output(prediction, CSV)
    array = np.asarray(prediction)
    if array.ndim > 2:
        raise InvocationError(
            406, f"a {array.ndim}-D prediction cannot be written as text/csv; accept {JSON}"
        )
    table = array.reshape(-1, 1) if array.ndim < 2 else array
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table.tolist())
    return out.getvalue().encode()


def _encode_npy(prediction: object) -> bytes:
    _one_output(prediction, NPY)
    out = io.BytesIO()
    try:
        np.save(out, np.asarray(prediction), allow_pickle=False)
    except ValueError as err:  # object arrays need pickle
        raise InvocationError(406, f"the prediction cannot be written as {NPY}: {err}") from None
    return out.getvalue()


def _one_output(prediction: object, media: str) -> None:
    if isinstance(prediction, dict):  # a model with several named outputs
        raise InvocationError(
            406,
            f"the model has several outputs ({', '.join(prediction)}); {media} holds one: "
            f"accept {JSON}",
        )


_ENCODERS: dict[str, Callable[[object], bytes]] = {
    JSON: _encode_json,
    CSV: _encode_csv,
    NPY: _encode_npy,
}


# -- negotiation ------------------------------------------------------------------------


def _media_ranges(accept: str) -> list[tuple[str, str, float]]:
    """Parse an Accept header into (type, subtype, q); malformed ranges are skipped."""
    ranges = []
    for part in accept.split(","):
        kind, *params = part.split(";")
        kind = kind.strip().lower()
        if kind == "*":  # seen in the wild; means */*
            kind = "*/*"
        main, slash, sub = kind.partition("/")
        if not (main and slash and sub):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also catches NaN
                    q = 0.0
        ranges.append((main, sub, q))
    return ranges


@lru_cache(maxsize=256)
def negotiate(accept: str | None, supported: tuple[str, ...] = SUPPORTED) -> str:
    """The type of `supported` that `accept` likes best; None, empty and `*/*` mean the
    first (JSON by default); else 406.

    Each supported type takes the q of the most specific range matching it (RFC 9110
    12.5.1). Ties go to the more specific match, then the range listed first, then the
    order of `supported`.
    """
    if not accept:
        return supported[0]
    stripped = accept.strip()
    if stripped in supported:
        return stripped
    if stripped in ("", "*/*"):
        return supported[0]
    ranges = _media_ranges(stripped)
    best: str | None = None
    best_key: tuple[float, int, int, int] | None = None
    for preference, offered in enumerate(supported):
        main, _, sub = offered.partition("/")
        match: tuple[int, float, int] | None = None  # (specificity, q, position)
        for position, (range_main, range_sub, q) in enumerate(ranges):
            if range_main == main and range_sub == sub:
                specificity = 2
            elif range_main == main and range_sub == "*":
                specificity = 1
            elif range_main == "*" and range_sub == "*":
                specificity = 0
            else:
                continue
            if match is None or specificity > match[0]:
                match = (specificity, q, position)
        if match is None or match[1] <= 0.0:
            continue
        key = (match[1], match[0], -match[2], -preference)
        if best_key is None or key > best_key:
            best, best_key = offered, key
    if best is None:
        raise InvocationError(
            406, f"cannot answer with Accept {accept!r}; supported types: {', '.join(supported)}"
        )
    return best
