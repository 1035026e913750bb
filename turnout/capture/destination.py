"""Where captured records go, and the checks SageMaker makes on a DataCaptureConfig."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from turnout.domain.resources import DataCapture
from turnout.errors import InvalidRequest

_MAX_URI = 512  # SageMaker's DestinationS3Uri limit
_CONTENT_TYPE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*")
_MAX_CONTENT_TYPES = 10


@dataclass(frozen=True)
class Destination:
    """A local directory (`path`), or an S3 bucket and key prefix (`bucket`, `prefix`)."""

    path: Path | None = None
    bucket: str = ""
    prefix: str = ""

    @property
    def is_s3(self) -> bool:
        return self.path is None


def parse_destination(uri: str) -> Destination:
    """`s3://bucket/prefix`, `file:///abs/dir` or `/abs/dir`; InvalidRequest otherwise."""
    if len(uri) > _MAX_URI:
        raise InvalidRequest(f"DestinationS3Uri is longer than {_MAX_URI} characters.")
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme.lower() == "s3":
        if not parsed.netloc:
            raise InvalidRequest(f"DestinationS3Uri {uri!r} names no bucket: s3://bucket/prefix.")
        return Destination(bucket=parsed.netloc, prefix=parsed.path.strip("/"))
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        path = urllib.parse.unquote(parsed.path)
    elif not parsed.scheme and uri.startswith("/"):
        path = uri
    else:
        raise InvalidRequest(
            f"DestinationS3Uri {uri!r} is not s3://bucket/prefix, file:///dir or an absolute "
            "directory."
        )
    if not path.startswith("/") or "\0" in path:
        raise InvalidRequest(f"DestinationS3Uri {uri!r} must name an absolute directory.")
    return Destination(path=Path(path))


def check(capture: DataCapture) -> None:
    """InvalidRequest, worded like SageMaker's ValidationException, unless `capture` is valid."""
    parse_destination(capture.destination)
    if not 0 <= capture.sampling_percentage <= 100:
        raise InvalidRequest(
            "DataCaptureConfig.InitialSamplingPercentage must be from 0 to 100; got "
            f"{capture.sampling_percentage}."
        )
    if not (capture.capture_input or capture.capture_output):
        raise InvalidRequest("DataCaptureConfig.CaptureOptions must name Input, Output or both.")
    for field, types in (
        ("CsvContentTypes", capture.csv_content_types),
        ("JsonContentTypes", capture.json_content_types),
    ):
        if len(types) > _MAX_CONTENT_TYPES:
            raise InvalidRequest(
                f"DataCaptureConfig.CaptureContentTypeHeader.{field} holds at most "
                f"{_MAX_CONTENT_TYPES} content types."
            )
        for content_type in types:
            if len(content_type) > 256 or not _CONTENT_TYPE.fullmatch(content_type):
                raise InvalidRequest(
                    f"DataCaptureConfig.CaptureContentTypeHeader.{field}: {content_type!r} is "
                    "not a content type (type/subtype)."
                )
