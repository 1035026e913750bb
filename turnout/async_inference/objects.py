"""Reading inputs and writing results of asynchronous requests: `s3://bucket/key` (through
the same S3 client and keys as s3:// model artifacts) or `file:///abs/path`.

Everything here blocks: call it from a worker thread. An input object is never held in
memory: an S3 object is downloaded (ranged, by boto3's transfer manager) into a spool file
that the sender reads in chunks; a local file is read in place.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.models.errors import ArtifactError
from turnout.models.s3 import S3Source, client_of, download

MAX_LOCATION = 1024  # SageMaker's InputLocation limit


class LocationError(Exception):
    """A location is not one turnout reads or writes; str says what to give instead."""


class InputError(Exception):
    """The input object cannot be read (missing, too large, unreadable); str says why."""


@dataclass(frozen=True)
class ObjectAt:
    """An object: a local file (`path`) or an S3 bucket and key."""

    path: Path | None = None
    bucket: str = ""
    key: str = ""


def parse_object(location: str, what: str = "InputLocation") -> ObjectAt:
    """`s3://bucket/key` or `file:///abs/path`; LocationError otherwise."""
    if len(location) > MAX_LOCATION:
        raise LocationError(f"{what} is longer than {MAX_LOCATION} characters.")
    parsed = urllib.parse.urlparse(location)
    scheme = parsed.scheme.lower()
    if scheme == "s3":
        key = parsed.path.lstrip("/")
        if not parsed.netloc or not key or key.endswith("/"):
            raise LocationError(f"{what} {location!r} names no object: give s3://bucket/key.")
        return ObjectAt(bucket=parsed.netloc, key=key)
    if scheme == "file" and parsed.netloc in ("", "localhost"):
        path = urllib.parse.unquote(parsed.path)
        if path.startswith("/") and "\0" not in path and not path.endswith("/"):
            return ObjectAt(path=Path(path))
    raise LocationError(
        f"{what} {location!r} is not s3://bucket/key or file:///absolute/path/to/file."
    )


@dataclass(frozen=True)
class InputFile:
    """An input ready to send: a file of `size` bytes, deleted after use if `spooled`."""

    path: Path
    size: int
    spooled: bool

    def discard(self) -> None:
        if self.spooled:
            self.path.unlink(missing_ok=True)


class Objects:
    """Inputs in, results out, for one `turnout serve` (its S3 store and spool directory)."""

    def __init__(self, source: S3Source, spool: Path, max_input_bytes: int) -> None:
        self._source = source
        self._spool = spool
        self.max_input_bytes = max_input_bytes
        self._clients: list[Any] = []  # one boto3 client, made on first use

    def clear_spool(self) -> None:
        """Delete the inputs a killed server left half-sent (before the worker starts)."""
        for leftover in self._spool.glob("input-*"):
            leftover.unlink(missing_ok=True)

    def _client(self) -> Any:
        if not self._clients:
            self._clients.append(client_of(self._source))
        return self._clients[0]

    def fetch(self, location: str) -> InputFile:
        """The input object as a local file; InputError when it cannot be had."""
        try:
            found = parse_object(location)
        except LocationError as exc:
            raise InputError(str(exc)) from None
        if found.path is not None:
            try:
                size = found.path.stat().st_size
            except OSError as exc:
                raise InputError(f"Cannot read the input {location}: {exc.strerror}.") from None
            if not found.path.is_file():
                raise InputError(f"The input {location} is not a file.")
            self._check_size(location, size)
            return InputFile(found.path, size, spooled=False)
        self._spool.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="input-", dir=self._spool)
        os.close(handle)
        target = Path(name)
        try:
            # Two parts at a time: the server's memory stays ~16 MB above idle, whatever the size.
            download(location, target, self._source, "input", self.max_input_bytes, parts_at_once=2)
        except ArtifactError as exc:
            target.unlink(missing_ok=True)
            raise InputError(str(exc)) from None
        return InputFile(target, target.stat().st_size, spooled=True)

    def _check_size(self, location: str, size: int) -> None:
        if size > self.max_input_bytes:
            raise InputError(
                f"The input {location} is {size} bytes, more than the {self.max_input_bytes} "
                "an asynchronous request may have."
            )

    def exists(self, location: str) -> bool:
        """Whether an object is already at `location` (a result written before a crash)."""
        found = parse_object(location, "location")
        if found.path is not None:
            return found.path.is_file()
        from botocore.exceptions import ClientError

        try:
            self._client().head_object(Bucket=found.bucket, Key=found.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def write(self, location: str, body: bytes, content_type: str) -> None:
        """Put `body` at `location`, whole or not at all (a local file is renamed into place)."""
        found = parse_object(location, "location")
        if found.path is None:
            self._client().put_object(
                Bucket=found.bucket, Key=found.key, Body=body, ContentType=content_type
            )
            return
        found.path.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=f".{found.path.name}.", dir=found.path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            os.replace(scratch, found.path)
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
