"""Checking AWS Signature Version 4 on a request, as AWS does for boto3's calls. Pure.

The server recomputes the signature from the request it received and the secret of the
access key the request names, and compares. Refusals use AWS's codes and wording:
MissingAuthenticationTokenException, IncompleteSignatureException,
UnrecognizedClientException, InvalidSignatureException (all HTTP 403).
The credential scope's region and service are taken as signed (not pinned), so any
region name a client is configured with works.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = datetime.timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)
_SPACES = re.compile(r"\s+")
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


class AuthError(Exception):
    """The request is refused; `code` and `str()` are what AWS would answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = 403


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent on the wire (percent-encoded), without the query
    query: str  # raw query string, without "?"
    headers: Sequence[tuple[str, str]]  # names in any case; repeated names allowed
    body: bytes


def verify(request: Request, secrets: Mapping[str, str], now: datetime.datetime) -> str:
    """The access key id that signed `request`; AuthError if it is not signed rightly."""
    headers = _header_map(request.headers)
    authorization = headers.get("authorization")
    if authorization is None:
        raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTH.fullmatch(authorization.strip())
    if match is None:
        raise AuthError(
            "IncompleteSignatureException",
            f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"with algorithm {ALGORITHM}.",
        )
    access_key, _, scope = match["credential"].partition("/")
    scope_parts = scope.split("/")
    if len(scope_parts) != 4 or scope_parts[3] != "aws4_request":
        raise AuthError(
            "IncompleteSignatureException",
            f"Credential must have the form <access key>/<date>/<region>/<service>/aws4_request, "
            f"not {match['credential']}.",
        )
    secret = secrets.get(access_key)
    if secret is None:
        raise AuthError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    amz_date = headers.get("x-amz-date", "")
    when = _parse_date(amz_date)
    if when is None:
        raise AuthError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    if abs(now - when) > MAX_SKEW:
        raise AuthError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - 5 min.)"
            if when < now
            else f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 5 min.)",
        )
    if scope_parts[0] != amz_date[:8]:
        raise AuthError(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_parts[0]}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    signed = match["signed"].split(";")
    for name in ("host", "x-amz-date"):
        if name not in signed:
            raise AuthError("InvalidSignatureException", f"'{name}' must be a signed header.")
    missing = [name for name in signed if name not in headers]
    if missing:
        raise AuthError(
            "InvalidSignatureException", f"Signed header(s) missing: {', '.join(missing)}."
        )
    body_hash = hashlib.sha256(request.body).hexdigest()
    claimed_hash = headers.get("x-amz-content-sha256")
    if claimed_hash is not None and claimed_hash != body_hash:
        raise AuthError(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    canonical = "\n".join(
        (
            request.method.upper(),
            _canonical_path(request.path),
            _canonical_query(request.query),
            "".join(f"{name}:{headers[name]}\n" for name in signed),
            match["signed"],
            body_hash,
        )
    )
    to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = _signing_key(secret, *scope_parts[:3])
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise AuthError("InvalidSignatureException", BAD_SIGNATURE)
    return access_key


def _header_map(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names; repeated headers joined by commas; values trimmed, spaces folded."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(_SPACES.sub(" ", value.strip()))
    return {name: ",".join(values) for name, values in merged.items()}


def _parse_date(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(text, _AMZ_DATE).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def _canonical_path(path: str) -> str:
    """As botocore builds it: dot segments removed (RFC 3986), then percent-encoded again."""
    if not path:
        return "/"
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.startswith("/") and (not output or output[0]):
        output.insert(0, "")
    if output and path.endswith(("/.", "/..")):
        output.append("")
    return quote("/".join(output), safe="/~")


def _canonical_query(query: str) -> str:
    """Parameters sorted by name then value, kept as encoded on the wire."""
    if not query:
        return ""
    pairs = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
