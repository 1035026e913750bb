"""plotly.js for the pages: 4.8 MB as shipped, so gzip it once, keep it in memory, and let
browsers cache it for good under a URL that names its version (`?v=<version>`).

The first request compresses it in a worker thread (never on the event loop); later ones
answer from memory: gzip to clients that accept it, else the raw bytes, and 304 to a
matching If-None-Match.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"


def plotly_js() -> Path:
    """plotly.js as the `plotly` Python package ships it (no CDN: turnout runs offline)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def plotly_version() -> str:
    return metadata.version("plotly")


@dataclass(frozen=True)
class _Encoded:
    raw: bytes
    gzipped: bytes
    etag: str


class CompressedAsset:
    def __init__(self, path: Path, media_type: str = "text/javascript") -> None:
        self._path = path
        self._media_type = media_type
        self._encoded: _Encoded | None = None
        self._lock = asyncio.Lock()

    async def response(self, request: Request) -> Response:
        encoded = await self._load()
        headers = {"cache-control": IMMUTABLE, "etag": encoded.etag, "vary": "Accept-Encoding"}
        if encoded.etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["content-encoding"] = "gzip"
            return Response(encoded.gzipped, media_type=self._media_type, headers=headers)
        return Response(encoded.raw, media_type=self._media_type, headers=headers)

    async def _load(self) -> _Encoded:
        async with self._lock:  # one compression, however many pages load at once
            if self._encoded is None:
                self._encoded = await asyncio.to_thread(self._encode)
            return self._encoded

    def _encode(self) -> _Encoded:
        raw = self._path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()[:16]
        return _Encoded(raw, gzip.compress(raw, compresslevel=6, mtime=0), f'"{digest}"')


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header allows gzip ("gzip;q=0" refuses it)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if params else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return True
    return False


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
