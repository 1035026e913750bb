"""Fetching `s3://bucket/key` model artifacts through boto3, from AWS or any S3-compatible store.

A download lands in a private temporary file renamed into place, so a file in the
downloads directory is always complete, and an instance restart reuses it. Failures are
ArtifactErrors worded like SageMaker's FailureReason, so the endpoint says why it failed.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from turnout.domain.resources import Model
from turnout.models.artifact import cache_key
from turnout.models.errors import ArtifactError

ACCESS_KEY_VAR = "TURNOUT_S3_ACCESS_KEY_ID"
SECRET_KEY_VAR = "TURNOUT_S3_SECRET_ACCESS_KEY"
MODEL_DATA = "model data"  # what is fetched, in failure reasons


@dataclass(frozen=True)
class S3Source:
    """Where s3:// URLs point: an endpoint URL (None: AWS) and optional explicit keys."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, endpoint_url: str | None, region: str) -> S3Source:
        """Keys from TURNOUT_S3_*; without them boto3's own chain (AWS_*, profiles) applies."""
        return cls(
            endpoint_url,
            region,
            os.environ.get(ACCESS_KEY_VAR) or None,
            os.environ.get(SECRET_KEY_VAR) or None,
        )


def is_s3(artifact: str) -> bool:
    return artifact[:5].lower() == "s3://"


def split(url: str, what: str = MODEL_DATA) -> tuple[str, str]:
    """`s3://bucket/path/model.tar.gz` -> ("bucket", "path/model.tar.gz")."""
    parsed = urllib.parse.urlparse(url)
    key = parsed.path.lstrip("/")
    if not parsed.netloc or not key or key.endswith("/"):
        raise ArtifactError(
            f'Failed to download {what} from URL: "{url}": give the URL of one object, '
            f"s3://bucket/path/{posixpath.basename(key.rstrip('/')) or 'model.tar.gz'}"
        )
    return parsed.netloc, key


def localize(model: Model, downloads: Path, source: S3Source) -> Model:
    """The model with an s3:// artifact replaced by its downloaded copy; others as they are."""
    if not is_s3(model.artifact):
        return model
    _, key = split(model.artifact)
    target = downloads / cache_key(model) / (posixpath.basename(key) or "model.tar.gz")
    if not target.is_file():
        download(model.artifact, target, source)
    return replace(model, artifact=str(target))


def client_of(source: S3Source) -> Any:
    """A boto3 S3 client for `source` (also used by data capture's uploads)."""
    import boto3  # only when s3:// is used
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=source.endpoint_url,
        region_name=source.region,
        aws_access_key_id=source.access_key_id,
        aws_secret_access_key=source.secret_access_key,
        config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3}),
    )


def download(
    url: str,
    target: Path,
    source: S3Source,
    what: str = MODEL_DATA,
    max_bytes: int | None = None,
    parts_at_once: int = 10,
) -> None:
    """Fetch the object at `url` into `target` (complete or absent); with `max_bytes`, an
    object larger than that is refused before any byte of it is fetched. boto3 holds up to
    `parts_at_once` parts of 8 MB in memory while it writes them (its default: 10)."""
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split(url, what)
    client = client_of(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        if max_bytes is not None:
            size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
            if size > max_bytes:
                raise ArtifactError(
                    f'{what.capitalize()} at "{url}" is {size} bytes, more than the '
                    f"{max_bytes} turnout accepts: make it smaller"
                )
        config = TransferConfig(max_concurrency=parts_at_once)
        client.download_file(bucket, key, scratch, Config=config)
        os.replace(scratch, target)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ArtifactError(_failure(url, what, f"{code or 'error'}: {exc}")) from None
    except (BotoCoreError, OSError) as exc:
        raise ArtifactError(_failure(url, what, str(exc))) from None
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def _failure(url: str, what: str, why: str) -> str:
    return (
        f'Failed to download {what} from URL: "{url}". Please ensure that there is an '
        f"object located at the URL and that turnout's S3 credentials can read it ({why})."
    )
