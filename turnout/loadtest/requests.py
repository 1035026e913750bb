"""The bytes of each invocation request: an HTTP/1.1 head per body, signed when needed.

Heads are built once per body and reused for every send (the generator's hot path must not
format strings). With credentials, each head carries a SigV4 signature made with botocore's
signer, as boto3 signs InvokeEndpoint; a signature is valid for 5 minutes on either side of
the server's clock, so a signed head is made again when it is older than `RESIGN_AFTER`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from turnout.client import SIGNING_SERVICE, Credentials
from turnout.loadtest.data import RequestData

RESIGN_AFTER = 240.0  # seconds; the server accepts 300 s of skew


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    endpoint: str
    target_variant: str | None = None
    raw_path: str | None = None  # another path than the endpoint's (bench: a bare app's)

    @property
    def path(self) -> str:
        return self.raw_path or f"/endpoints/{quote(self.endpoint, safe='')}/invocations"


class RequestHeads:
    """The head to send with body `i` of the data."""

    def __init__(
        self,
        target: Target,
        data: RequestData,
        credentials: Credentials | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.target = target
        self.data = data
        self._host = f"{target.host}:{target.port}"
        self._fixed: list[tuple[str, str]] = [("Content-Type", data.content_type)]
        if target.target_variant:
            self._fixed.append(("X-Amzn-SageMaker-Target-Variant", target.target_variant))
        self._signer = _signer(credentials, region) if credentials is not None else None
        if self._signer is None:
            self._heads = [self._head(body, ()) for body in data.bodies]
        else:
            self._signed: dict[int, tuple[float, bytes]] = {}

    def head(self, index: int) -> tuple[bytes, bytes]:
        """(head, body) of the index-th request (cycling through the data)."""
        index %= len(self.data.bodies)
        body = self.data.bodies[index]
        if self._signer is None:
            return self._heads[index], body
        now = time.monotonic()
        cached = self._signed.get(index)
        if cached is None or now - cached[0] > RESIGN_AFTER:
            cached = (now, self._head(body, self._signature(body)))
            self._signed[index] = cached
        return cached[1], body

    def _head(
        self, body: bytes, extra: tuple[tuple[str, str], ...] | list[tuple[str, str]]
    ) -> bytes:
        lines = [f"POST {self.target.path} HTTP/1.1", f"Host: {self._host}"]
        lines += [f"{name}: {value}" for name, value in (*self._fixed, *extra)]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _signature(self, body: bytes) -> list[tuple[str, str]]:
        from botocore.awsrequest import AWSRequest

        assert self._signer is not None
        url = f"http://{self._host}{self.target.path}"
        aws = AWSRequest(
            method="POST", url=url, data=body, headers={"host": self._host, **dict(self._fixed)}
        )
        self._signer.add_auth(aws)
        return [
            ("X-Amz-Date", aws.headers["X-Amz-Date"]),
            ("Authorization", aws.headers["Authorization"]),
        ]


def _signer(credentials: Credentials, region: str) -> Any:
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials as BotocoreCredentials

    keys = BotocoreCredentials(credentials.access_key_id, credentials.secret_access_key)
    return SigV4Auth(keys, SIGNING_SERVICE, region)
