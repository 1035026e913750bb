"""Uploading closed capture files to S3, or any S3-compatible store (turnout serve's
--s3-endpoint-url, the same as for s3:// model artifacts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from turnout.capture.writer import Upload
from turnout.models.s3 import S3Source, client_of


def s3_upload(source: S3Source) -> Upload:
    """An Upload for the writer thread (the boto3 client is made on first use, there)."""
    clients: list[Any] = []

    def upload(path: Path, bucket: str, key: str) -> None:
        if not clients:
            clients.append(client_of(source))
        clients[0].upload_file(str(path), bucket, key)

    return upload
