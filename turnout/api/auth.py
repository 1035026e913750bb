"""Who may call turnout: access keys from a credentials file or the environment, and the
ASGI guard that refuses requests not SigV4-signed with one of them.

The file has the format of `~/.aws/credentials`: every section holding
`aws_access_key_id` and `aws_secret_access_key` adds one accepted key pair.
"""

from __future__ import annotations

import base64
import configparser
import datetime
import hmac
import ipaddress
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from turnout.api.body import read_body
from turnout.api.sigv4 import AuthError, Request, verify
from turnout.asgi import Receive, Scope, Send

ACCESS_KEY_VAR = "TURNOUT_ACCESS_KEY_ID"
SECRET_KEY_VAR = "TURNOUT_SECRET_ACCESS_KEY"
# Left open with credentials on: health checks (load balancers, `BackgroundServer`).
OPEN_PATHS = frozenset({"/api/v1/health"})

App = Callable[[Scope, Receive, Send], Awaitable[None]]


class CredentialsError(Exception):
    """The credentials cannot be read; str says what to fix."""


def load_credentials(path: Path | None, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Access key id -> secret, from `path` and the TURNOUT_* variables; {} if neither."""
    secrets: dict[str, str] = {}
    if path is not None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with path.open(encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, UnicodeDecodeError, configparser.Error) as exc:
            raise CredentialsError(f"cannot read credentials file {path}: {exc}") from None
        for name in parser.sections():
            section = parser[name]
            key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
            if not key or not secret:
                raise CredentialsError(
                    f"credentials file {path}: section [{name}] needs aws_access_key_id and "
                    "aws_secret_access_key"
                )
            secrets[key.strip()] = secret.strip()
        if not secrets:
            raise CredentialsError(
                f"credentials file {path} holds no key pair: add a section with "
                "aws_access_key_id and aws_secret_access_key"
            )
    key, secret = environ.get(ACCESS_KEY_VAR), environ.get(SECRET_KEY_VAR)
    if bool(key) != bool(secret):
        raise CredentialsError(f"set both {ACCESS_KEY_VAR} and {SECRET_KEY_VAR}, or neither")
    if key and secret:
        secrets[key] = secret
    return secrets


class SigV4Guard:
    """Passes on only requests signed with a known key pair; answers the rest with 403.

    A browser cannot sign, so the pages `for_browsers` picks (the read-only dashboard) take
    HTTP Basic authentication instead: an access key id as the user, its secret as the
    password; without it they answer 401, which makes the browser ask.
    """

    def __init__(
        self,
        app: App,
        secrets: Mapping[str, str],
        max_body_bytes: int,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        for_browsers: Callable[[Scope], bool] = lambda scope: False,
    ) -> None:
        self._app = app
        self._secrets = dict(secrets)
        self._max_body = max_body_bytes
        self._clock = clock
        self._for_browsers = for_browsers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in OPEN_PATHS:
            await self._app(scope, receive, send)
            return
        if self._for_browsers(scope) and not _has_signature(scope):
            if basic_auth_ok(scope, self._secrets):
                await self._app(scope, receive, send)
            else:
                await _ask_for_basic_auth(send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        body = await read_body(receive, self._max_body)
        if body is None:
            await refuse(scope, send, 413, "ValidationError",
                          f"The request body is larger than {self._max_body} bytes.")  # fmt: skip
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = Request(
            scope["method"],
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
        )
        try:
            verify(request, self._secrets, self._clock())
        except AuthError as err:
            await refuse(scope, send, err.status, err.code, err.message)
            return
        await self._app(scope, _replay(body), send)


def _has_signature(scope: Scope) -> bool:
    return any(k == b"authorization" and v.startswith(b"AWS4-") for k, v in scope["headers"])


def basic_auth_ok(scope: Scope, secrets: Mapping[str, str]) -> bool:
    """Whether the request carries `Authorization: Basic` with a known key id and its secret."""
    header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
    return basic_credentials_ok(header, secrets)


def basic_credentials_ok(header: bytes, secrets: Mapping[str, str]) -> bool:
    """Whether an Authorization value is `Basic` with a known key id and its secret."""
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    expected = secrets.get(user)
    return expected is not None and hmac.compare_digest(expected, password)


async def _ask_for_basic_auth(send: Send) -> None:
    body = b"turnout: sign in with an access key id and its secret access key\n"
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(body)),
        (b"www-authenticate", b'Basic realm="turnout", charset="UTF-8"'),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    """Both protocols' shapes: `__type` for AWS JSON, `x-amzn-ErrorType` for REST JSON;
    CloudWatch's callers in theirs (query wants XML, RPC v2 CBOR wants CBOR)."""
    # Here, not at the top: load_credentials' users (the client, the CLI) need no facade.
    from turnout.api.cloudwatch.errors import CloudWatchError
    from turnout.api.cloudwatch.facade import error_reply as cloudwatch_error
    from turnout.api.cloudwatch.facade import is_cloudwatch_request

    if is_cloudwatch_request(scope):
        reply = cloudwatch_error(scope, CloudWatchError(code, message, status))
        await send({"type": "http.response.start", "status": status, "headers": reply.headers})
        await send({"type": "http.response.body", "body": reply.body})
        return
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"x-amzn-errortype", code.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def exposure_problem(host: str, has_credentials: bool, insecure: bool) -> str | None:
    """Why listening on `host` is refused, or None: beyond loopback, callers must sign."""
    if has_credentials or insecure or _is_loopback(host):
        return None
    return (
        f"refusing to listen on {host} without credentials: anyone who can reach it could "
        "deploy and run code. Pass --credentials FILE (or set "
        f"{ACCESS_KEY_VAR} and {SECRET_KEY_VAR}), or --insecure if that is really meant"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
