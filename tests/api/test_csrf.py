"""The cross-site write rule (turnout.api.csrf.cross_site_problem), case by case."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.api.csrf import cross_site_problem

HOST = "127.0.0.1:8080"


def problem(method: str = "POST", **headers: str) -> str | None:
    wire = [(b"host", HOST.encode())] + [
        (name.replace("_", "-").lower().encode(), value.encode()) for name, value in headers.items()
    ]
    return cross_site_problem(method, wire)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, boto3, the CLI: no browser headers
        {"sec_fetch_site": "same-origin"},
        {"sec_fetch_site": "none"},  # the user typed it
        {"sec_fetch_site": "Same-Origin", "origin": "http://elsewhere"},  # Sec-Fetch-Site rules
        {"origin": f"http://{HOST}"},
        {"origin": f"HTTP://{HOST.upper()}"},
        {"referer": f"http://{HOST}/dashboard/endpoints/x?y=1"},
        {"origin": "http://evil.example", "authorization": "AWS4-HMAC-SHA256 Credential=..."},
        {"sec_fetch_site": "cross-site", "authorization": "Bearer abc"},
    ],
)
def test_passes(headers: dict[str, str]) -> None:
    assert problem(**headers) is None


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"sec_fetch_site": "cross-site"}, "from a cross-site page"),
        ({"sec_fetch_site": "same-site"}, "from a same-site page"),
        ({"sec_fetch_site": "cross-site", "origin": f"http://{HOST}"}, "cross-site"),
        ({"origin": "http://127.0.0.1:9999"}, "Origin is 'http://127.0.0.1:9999'"),
        ({"origin": "http://127.0.0.1"}, "Origin"),  # port 80, not 8080
        ({"origin": "null"}, "Origin is 'null'"),
        ({"origin": "http://evil.example", "referer": f"http://{HOST}/"}, "Origin"),
        ({"referer": "http://evil.example/x"}, "Referer is 'http://evil.example/x'"),
        ({"origin": "http://evil.example", "authorization": "Basic a2V5OnNlY3JldA=="}, "Origin"),
    ],
)
def test_refused(headers: dict[str, str], why: str) -> None:
    message = problem(**headers)
    assert message is not None and why in message
    assert message.startswith("Cross-site request refused: ") and HOST in message


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "post"])
def test_every_unsafe_method_is_checked(method: str) -> None:
    assert problem(method, origin="http://evil.example") is not None


def test_default_ports_match_a_host_without_one() -> None:
    wire = [(b"host", b"turnout.example"), (b"origin", b"https://turnout.example:443")]
    assert cross_site_problem("POST", wire) is None
    wire = [(b"host", b"[::1]:8080"), (b"origin", b"http://[::1]:8080")]
    assert cross_site_problem("POST", wire) is None


@given(
    method=st.sampled_from(["GET", "HEAD", "OPTIONS", "get"]),
    headers=st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=6),
)
def test_reads_always_pass(method: str, headers: list[tuple[bytes, bytes]]) -> None:
    assert cross_site_problem(method, headers) is None


@given(headers=st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=60)), max_size=6))
def test_any_headers_give_an_answer_not_an_exception(headers: list[tuple[bytes, bytes]]) -> None:
    names = [b"host", b"origin", b"referer", b"sec-fetch-site", b"authorization"]
    wire = [(names[len(k) % len(names)], v) for k, v in headers]
    result = cross_site_problem("POST", wire)
    assert result is None or result.startswith("Cross-site request refused")
