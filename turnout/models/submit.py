"""SageMaker script mode: the model's code fetched from SAGEMAKER_SUBMIT_DIRECTORY.

The SageMaker Python SDK (`SKLearnModel(entry_point=..., source_dir=...)`) uploads the code
as `s3://.../sourcedir.tar.gz` apart from model.tar.gz, and names it in the container's
environment with SAGEMAKER_PROGRAM (the entry point). Here the URL (s3://, file:// or a
local path; a .tar.gz or a directory) becomes a local path; `artifact.prepare` then serves
it as the model's code/. Blocking: call it where the artifact is readied (a thread).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from turnout.domain.resources import Model
from turnout.models import layout
from turnout.models.artifact import MAX_CODE_BYTES, cache_key, locate
from turnout.models.s3 import S3Source, download, is_s3, split

WHAT = f"the source directory ({layout.SUBMIT_DIRECTORY})"


def localize_code(model: Model, downloads: Path, source: S3Source) -> Path | None:
    """The local copy of the model's submit directory (fetched once), or None without one."""
    url = layout.submit_directory(model.environment)
    if url is None:
        return None
    if not is_s3(url):
        return locate(url, layout.SUBMIT_DIRECTORY)
    _, key = split(url, WHAT)
    target = downloads / cache_key(model) / layout.CODE_DIR / posixpath.basename(key)
    if not target.is_file():
        download(url, target, source, WHAT, MAX_CODE_BYTES)
    return target
