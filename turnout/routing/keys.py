"""Reading a request's assignment key, and minting one for a browser that has none.

A request is "browser-like" when its Accept names text/html or its User-Agent starts with
`Mozilla/` (every mainstream browser's does; curl, boto3, httpx and the SDKs' do not), so
only browsers get a cookie: an API caller without a key is assigned per request, as
before, and never collects Set-Cookie headers it would not send back (ADR 0013).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from turnout.domain.routing import RoutingSettings

COOKIE_MAX_AGE = 365 * 24 * 3600
_COOKIE = b"cookie"
_ACCEPT = b"accept"
_USER_AGENT = b"user-agent"
_CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"


class KeyReader:
    """The key sources of one endpoint's settings, compiled for byte-level matching."""

    __slots__ = ("_cookie", "_field", "_header", "cookie_name")

    def __init__(self, settings: RoutingSettings) -> None:
        self._header = settings.header.lower().encode() if settings.header else None
        self._field = settings.custom_attribute.encode() if settings.custom_attribute else None
        self.cookie_name = settings.cookie
        self._cookie = settings.cookie.encode() if settings.cookie else None

    def read(self, headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes | None, bool]:
        """(the key, or None; whether a cookie should be set: no key, and a browser)."""
        header = attributes = cookies = None
        browser = False
        for name, value in headers:
            if name == self._header:
                header = value
            elif name == _CUSTOM_ATTRIBUTES:
                attributes = value
            elif name == _COOKIE:
                cookies = value if cookies is None else cookies + b"; " + value
            elif name == _ACCEPT:
                browser = browser or b"text/html" in value
            elif name == _USER_AGENT:
                browser = browser or value.startswith(b"Mozilla/")
        if header:
            return header.strip(), False
        if attributes is not None and self._field is not None:
            found = _field(attributes, self._field)
            if found:
                return found, False
        if self._cookie is None:
            return None, False
        if cookies is not None:
            found = _cookie(cookies, self._cookie)
            if found:
                return found, False
        return None, browser

    def set_cookie(self, user: str) -> bytes:
        """The Set-Cookie value that gives a browser its new key."""
        return (
            f"{self.cookie_name}={user}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax; HttpOnly"
        ).encode()


def new_user_id() -> str:
    return secrets.token_hex(16)


def _field(attributes: bytes, name: bytes) -> bytes | None:
    """`name`'s value in CustomAttributes written as `k=v` pairs split by `;` or `,`."""
    for part in attributes.replace(b",", b";").split(b";"):
        key, sep, value = part.partition(b"=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def _cookie(header: bytes, name: bytes) -> bytes | None:
    for part in header.split(b";"):
        key, sep, value = part.partition(b"=")
        if sep and key.strip() == name:
            return value.strip().strip(b'"')
    return None
