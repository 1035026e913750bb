"""boto3 clients for the module's `turnout serve` (the `server` fixture of tests/conftest.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import Artifacts
from tests.support.models import make_tarball
from turnout.cli.background import BackgroundServer, free_port

ACCOUNT = "123456789012"
REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "AKIATURNOUTTEST", "turnout-test-secret"
# Fail fast: a test that provokes errors must not sit through boto3's retries.
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def clients(url: str, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> tuple[Any, Any]:
    """(sagemaker, sagemaker-runtime) clients pointed at `url`, exactly as a user makes them."""
    options = {
        "endpoint_url": url,
        "region_name": REGION,
        "aws_access_key_id": key,
        "aws_secret_access_key": secret,
        "config": CONFIG,
    }
    return boto3.client("sagemaker", **options), boto3.client("sagemaker-runtime", **options)


def arn(resource: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{name}"


class Tarballs:
    """SageMaker model.tar.gz files of the session's model directories."""

    def __init__(self, artifacts: Artifacts, root: Path) -> None:
        self._artifacts = artifacts
        self._root = root

    def url(self, name: str) -> str:
        """A file:// ModelDataUrl of the tarball of `artifacts.<name>`."""
        return self.path(name).as_uri()

    @functools.cache  # noqa: B019 (one instance per session)
    def path(self, name: str) -> Path:
        return make_tarball(getattr(self._artifacts, name), self._root / name / "model.tar.gz")


@pytest.fixture(scope="session")
def tarballs(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Tarballs:
    return Tarballs(artifacts, tmp_path_factory.mktemp("tarballs"))


@pytest.fixture(scope="module")
def store_url() -> Iterator[str]:
    """An S3-compatible store (moto's server) for s3:// artifacts and capture destinations."""
    from moto.server import ThreadedMotoServer  # heavy: only for the modules that use it

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        moto.stop()


@pytest.fixture(scope="module")
def s3_server_args(store_url: str) -> Iterator[tuple[str, ...]]:
    """`turnout serve` options (and keys) for s3:// URLs in the module's moto server."""
    with pytest.MonkeyPatch.context() as env:  # inherited by the `turnout serve` child
        env.setenv("TURNOUT_S3_ACCESS_KEY_ID", "moto")
        env.setenv("TURNOUT_S3_SECRET_ACCESS_KEY", "moto")
        yield ("--s3-endpoint-url", store_url)


@pytest.fixture(scope="module")
def sm(server: BackgroundServer) -> Any:
    return clients(server.url)[0]


@pytest.fixture(scope="module")
def rt(server: BackgroundServer) -> Any:
    return clients(server.url)[1]
