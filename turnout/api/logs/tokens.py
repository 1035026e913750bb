"""Paging tokens: where the next page starts, as byte offsets in the streams' files. Pure.

GetLogEvents' tokens are `f/<offset>` (read forward from there) and `b/<offset>` (read
backward from there); at the end of a stream the answer carries the token it was given,
which is how clients know to stop. FilterLogEvents' token holds an offset per stream.
"""

from __future__ import annotations

import base64
import binascii
import json

from turnout.api.logs.groups import invalid

FORWARD, BACKWARD = "f", "b"


def position(direction: str, offset: int) -> str:
    return f"{direction}/{offset:020d}"


def parse_position(token: str) -> tuple[str, int]:
    direction, _, digits = token.partition("/")
    if direction not in (FORWARD, BACKWARD) or not digits.isdigit() or len(digits) > 20:
        raise _bad_token()
    return direction, int(digits)


def offsets(per_stream: dict[str, int]) -> str:
    text = json.dumps(per_stream, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode()


def parse_offsets(token: str) -> dict[str, int]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_token() from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in value.items()
    ):
        raise _bad_token()
    return value


def _bad_token() -> Exception:
    return invalid("The specified nextToken is invalid.")
