"""Fetch and load one model of a multi-model endpoint: `<prefix>/<TargetModel>` (ADR 0037).

The prefix is `s3://bucket/prefix/`, a local directory or a `file://` URL to one; under it
each model is a `model.tar.gz` (or a directory) in any layout turnout serves. Blocking
functions: the instance calls them in a thread. A model that is not there is a
`ModelNotFound` (SageMaker answers "Failed to download model data" as a ValidationError);
one that is there but cannot be served is an ArtifactError / ModelLoadError.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.domain.resources import Model
from turnout.errors import InvalidRequest
from turnout.models import registry
from turnout.models.artifact import _extract, detect_flavor, locate
from turnout.models.errors import ArtifactError, ModelLoadError
from turnout.models.flavors.command import NAME as COMMAND
from turnout.models.runtime import LoadedModel
from turnout.models.s3 import S3Source, client_of, is_s3

MAX_MODEL_BYTES = 512 * 1024 * 1024  # one model unpacked


class ModelNotFound(ArtifactError):
    """No model data at `<prefix>/<TargetModel>`."""


@dataclass(frozen=True)
class Fetched:
    path: Path  # the unpacked model's directory
    size: int  # bytes of its files
    downloaded: bool  # whether it came over the network (S3), not from a local directory


def _safe(name: str) -> str:
    """A directory name for `name`: readable, and unique (two names can clean alike)."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)[:100]}-{digest}"


class ModelSource:
    """Where a multi-model endpoint's models are, and a cache directory to unpack them in."""

    def __init__(self, prefix: str, cache_dir: Path, s3: S3Source | None = None) -> None:
        self.prefix = prefix
        self.cache_dir = cache_dir
        self._s3 = s3 or S3Source()
        self._client: Any = None  # one boto3 client per instance (they are thread-safe)
        if is_s3(prefix):
            parsed = urllib.parse.urlparse(prefix)
            if not parsed.netloc:
                raise ArtifactError(f"{prefix}: give s3://bucket/prefix/")
            self._bucket = parsed.netloc
            key = parsed.path.lstrip("/")
            self._key_prefix = key if not key or key.endswith("/") else key + "/"
            self._root: Path | None = None
        else:
            self._root = locate(prefix, "model data prefix")
            if not self._root.is_dir():
                raise ArtifactError(f"model data prefix {prefix} is not a directory")

    def url_of(self, name: str) -> str:
        if self._root is None:
            return f"s3://{self._bucket}/{self._key_prefix}{name}"
        return str(self._root / name)

    def fetch(self, name: str) -> Fetched:
        """The model `name` (a checked TargetModel) unpacked in the cache directory."""
        target = self.cache_dir / _safe(name)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)  # a left-over of an evicted copy
        if self._root is None:
            archive = self.cache_dir / f".{_safe(name)}.download"
            self._download(name, archive)
            downloaded = True
        else:
            archive = self._root / name
            if not archive.exists():
                raise ModelNotFound(_not_found(self.url_of(name), "no such file"))
            if archive.is_dir():
                return Fetched(archive, _size_of(archive), False)
            downloaded = False
        try:
            target.mkdir(parents=True)
            _extract(archive, f"model data {self.url_of(name)}", target, MAX_MODEL_BYTES)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        finally:
            if downloaded:
                archive.unlink(missing_ok=True)
        return Fetched(target, _size_of(target), downloaded)

    def _download(self, name: str, into: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = client_of(self._s3)
        key = self._key_prefix + name
        try:
            self._client.download_file(self._bucket, key, str(into))
        except ClientError as exc:
            into.unlink(missing_ok=True)
            code = exc.response.get("Error", {}).get("Code", "")
            raise ModelNotFound(_not_found(self.url_of(name), code or str(exc))) from None
        except (BotoCoreError, OSError) as exc:
            into.unlink(missing_ok=True)
            raise ModelNotFound(_not_found(self.url_of(name), str(exc))) from None

    def forget(self, fetched_path: Path) -> None:
        """Delete an unpacked copy (never a model directory served in place)."""
        if fetched_path.parent == self.cache_dir:
            shutil.rmtree(fetched_path, ignore_errors=True)


def check_multi_model(model: Model, check_artifact: bool) -> None:
    """Refuse a multi-model model turnout cannot serve (InvalidRequest); with
    `check_artifact`, a local prefix must be a readable directory now."""
    if model.command is not None or model.flavor == COMMAND:
        raise InvalidRequest(
            f"model {model.name}: a multi-model endpoint's models are served by turnout's "
            "worker; drop the command"
        )
    if check_artifact and not is_s3(model.artifact):
        try:
            path = locate(model.artifact, "model data prefix")
        except ArtifactError as exc:
            raise InvalidRequest(str(exc)) from None
        if not path.is_dir():
            raise InvalidRequest(
                f"model data prefix {model.artifact} is not a directory: a multi-model "
                "model's artifact is the directory (or s3:// prefix) holding its models"
            )


def load(name: str, path: Path, environment: Mapping[str, str]) -> LoadedModel:
    """Detect the flavor of the model unpacked at `path` and load it with turnout's worker."""
    flavor_name = detect_flavor(path, Model(name=name, artifact=str(path), environment=environment))
    flavor = registry.get(flavor_name)
    if flavor.load is None:
        raise ModelLoadError(
            f"model {name} is of flavor {flavor_name}, which a multi-model endpoint cannot serve"
        )
    return flavor.load(path, environment)


def _size_of(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for file in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, file)).st_size
    return total


def _not_found(url: str, why: str) -> str:
    # SageMaker's words for it, so that code matching on them keeps working.
    return (
        f'Failed to download model data from URL: "{url}". Please ensure that there is an '
        f"object located at the URL and that turnout's S3 credentials can read it ({why})."
    )
