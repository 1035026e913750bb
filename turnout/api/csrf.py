"""Refusing cross-site writes (CSRF): a web page must not make a browser write to turnout.

A browser attaches what it holds for turnout's origin — HTTP Basic credentials typed for
the dashboard, cookies — to a request any other site's page starts, and some requests
(a `POST` with a `text/plain` body, a form) need no CORS preflight. Without credentials,
being on the loopback is the authority, and a page in any tab shares it. So an unsafe
request (not GET/HEAD/OPTIONS) that a browser sends from another site is refused, as the
browser itself describes it (ADR 0035):

1. `Sec-Fetch-Site` (every current browser sends it): only `same-origin` (a page of
   turnout's, the dashboard) and `none` (typed by the user) pass;
2. else `Origin`, else `Referer`: its host[:port] must be the request's `Host`;
3. neither (curl, boto3, the Python client, the CLI, Prometheus — not browsers): passes.

Requests signed with SigV4 or carrying a bearer token pass: a page cannot make the browser
add those, so they were not made by one behind the user's back. Pure, plus an ASGI guard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from turnout.api.auth import refuse
from turnout.asgi import Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
ERROR_CODE = "AccessDeniedException"  # AWS's 403 for "not allowed"; both facades use it

App = Callable[[Scope, Receive, Send], Awaitable[None]]


def cross_site_problem(method: str, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why this request looks like a browser's cross-site write, or None if it may pass."""
    if method.upper() in SAFE_METHODS:
        return None
    seen: dict[bytes, bytes] = {}
    for key, raw in headers:  # ASGI: names are lower-case already
        if key in (b"sec-fetch-site", b"origin", b"referer", b"host", b"authorization"):
            seen.setdefault(key, raw)
    authorization = seen.get(b"authorization", b"")
    if authorization.startswith(b"AWS4-") or authorization[:7].lower() == b"bearer ":
        return None
    host = seen.get(b"host", b"").decode("latin-1").strip().lower()
    site = seen.get(b"sec-fetch-site")
    if site is not None:
        fetch_site = site.decode("latin-1").strip().lower()
        if fetch_site in TRUSTED_FETCH_SITES:
            return None
        return _message(f"the browser says it comes from a {fetch_site} page", host)
    for name in (b"origin", b"referer"):
        value = seen.get(name)
        if value is None:
            continue
        source = value.decode("latin-1").strip()
        if _host_of(source) == host and host:
            return None
        return _message(f"its {name.decode().title()} is {source!r}", host)
    return None


def _host_of(url: str) -> str | None:
    """host[:port] of an origin or URL as a Host header spells it (default port left out)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # "null" (sandboxed pages, file://), or junk
    hostname = parts.hostname.lower()
    if ":" in hostname:
        hostname = f"[{hostname}]"  # IPv6, as in a Host header
    default = 443 if parts.scheme == "https" else 80
    return hostname if port in (None, default) else f"{hostname}:{port}"


def _message(why: str, host: str) -> str:
    return (
        f"Cross-site request refused: {why}, not from this server ({host or 'no Host'}). "
        "Write from turnout's own pages, or from a client that is not a browser (the CLI, "
        "the Python client, boto3)."
    )


class CrossSiteGuard:
    """Answers 403 AccessDeniedException to browsers' cross-site writes; passes the rest."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = cross_site_problem(scope["method"], scope["headers"])
        if problem is None:
            await self._app(scope, receive, send)
            return
        await refuse(scope, send, 403, ERROR_CODE, problem)
