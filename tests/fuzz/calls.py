"""HTTP requests as data, and the ways the fuzzers break them on the wire: bad UTF-8, cut
JSON, a body that is not an object, 10,000-deep nesting, a body over the facade's limit,
a wrong Content-Type, a wrong X-Amz-Target, a wrong method."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from hypothesis import strategies as st

from tests.fuzz.strategies import DEEP
from turnout.api.sagemaker.protocol import MAX_REQUEST_BYTES

_SHOWN = 300  # bytes of a body shown in a finding


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    how: str = "valid"  # what the fuzzer did to it, for the finding

    def header(self, name: str, value: str | None) -> Call:
        """This call with header `name` set to `value` (removed if None)."""
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        headers = kept if value is None else (*kept, (name, value))
        return dataclasses.replace(self, headers=headers)

    def send(self, http: httpx.Client) -> httpx.Response:
        # HTTP itself (h11) refuses edge whitespace in a value: no server ever sees it.
        headers = [(k, v.strip().encode("latin-1", "replace")) for k, v in self.headers]
        return http.request(self.method, self.path, headers=headers, content=self.body)

    def __str__(self) -> str:
        body = self.body[:_SHOWN] + (b"..." if len(self.body) > _SHOWN else b"")
        return f"{self.method} {self.path} {dict(self.headers)} ({self.how}) {body!r}"


def aws_json(target: str, body: bytes, version: str = "1.1") -> Call:
    headers = (("X-Amz-Target", target), ("Content-Type", f"application/x-amz-json-{version}"))
    return Call("POST", "/", headers, body)


Break = Callable[[Call, st.DataObject], Call]


def _body(how: str, body: Callable[[bytes, st.DataObject], bytes]) -> Break:
    def broken(call: Call, data: st.DataObject) -> Call:
        return dataclasses.replace(call, body=body(call.body, data), how=how)

    return broken


def _cut(body: bytes, data: st.DataObject) -> int:
    return data.draw(st.integers(0, len(body)), label="at")


def _header(how: str, name: str, values: st.SearchStrategy[str | None]) -> Break:
    def broken(call: Call, data: st.DataObject) -> Call:
        changed = call.header(name, data.draw(values, label=name))
        return dataclasses.replace(changed, how=how)

    return broken


def _method(call: Call, data: st.DataObject) -> Call:
    method = data.draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH"]), label="method")
    return dataclasses.replace(call, method=method, how="method")


_GARBAGE_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "text/plain",
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/x-amz-json-1.0",
            "application/cbor",
            "a" * 2000,
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)

WIRE_BREAKS: list[Break] = [
    _body("bad-utf8", lambda b, d: b[: (i := _cut(b, d))] + b"\xff\xfe\xc3(" + b[i:]),
    _body("cut", lambda b, d: b[: _cut(b, d)]),
    _body(
        "not-an-object",
        lambda b, d: d.draw(
            st.sampled_from(
                [b"[1,2]", b"42", b'"s"', b"null", b"true", b"1e400", b"[" + b, b"{" * 3]
            )
        ),
    ),
    _body("deep", lambda b, d: DEEP.encode()),
    _body("deep-objects", lambda b, d: b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    _body("oversize", lambda b, d: b'{"A":"' + b"x" * MAX_REQUEST_BYTES + b'"}'),
    _header("content-type", "Content-Type", _GARBAGE_TYPES),
    _method,
]


def target_breaks(prefix: str) -> list[Break]:
    """X-Amz-Target values a facade must refuse (or pass on to another facade)."""
    targets = st.one_of(
        st.none(),
        st.sampled_from(
            [
                "",
                prefix,
                f"{prefix}.",
                f"{prefix}.NoSuchOperation",
                f"{prefix}.createmodel",
                "Other.CreateModel",
                f"{prefix}." + "A" * 5000,
            ]
        ),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    )
    return [_header("target", "X-Amz-Target", targets)]
