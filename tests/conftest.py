"""Fixtures shared by the test suite, mostly for e2e tests that run a real `turnout serve`.

- `artifacts`: model directories (digits classifiers, faulty and broken models), built once
  per session on first use.
- `server`: one `turnout serve` child process per test module, in its own data dir; a
  module changes its options by overriding the `server_args` fixture. Its teardown also
  checks that the server is still running: no test may take it down.
- `client`: a `turnout.client.Client` for that server.
- `deploy`: `deploy(name, [VariantOf(...), ...])` registers models, an endpoint config and
  the endpoint, and returns it once InService.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support import models
from tests.support.endpoints import VariantOf, deploy_endpoint
from turnout.cli.background import BackgroundServer
from turnout.client import Client, EndpointInfo

Deploy = Callable[[str, Sequence[VariantOf]], EndpointInfo]


class Artifacts:
    """Model directories under one session temp dir, each built on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @functools.cached_property
    def sklearn(self) -> Path:
        return models.make_sklearn_model(self.root / "sklearn")

    @functools.cached_property
    def sklearn_slow_learner(self) -> Path:
        """The same classifier with a smaller C: a second, different model."""
        return models.make_sklearn_model(self.root / "sklearn-c001", C=0.01)

    @functools.cached_property
    def faulty(self) -> Path:
        return models.make_faulty_model(self.root / "faulty")

    @functools.cached_property
    def flaky(self) -> Path:
        """Fails 30% of its requests with a 500 (3 of every 10)."""
        return models.make_flaky_model(self.root / "flaky")

    @functools.cached_property
    def broken(self) -> Path:
        return models.make_broken_model(self.root / "broken")

    @functools.cached_property
    def command(self) -> Path:
        return models.make_command_model(self.root / "command")


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    return Artifacts(tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    """Extra `turnout serve` options for this module's server (override in a module)."""
    return ()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, server_args: tuple[str, ...]
) -> Iterator[BackgroundServer]:
    background = BackgroundServer(tmp_path_factory.mktemp("serve"), extra_args=server_args)
    with background:
        yield background
        assert background.process is not None
        still_running = background.process.poll() is None
        assert still_running, f"turnout serve died during the tests: {background.log_tail(20)}"


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Iterator[Client]:
    with Client(server.url, timeout=30) as turnout:
        yield turnout


@pytest.fixture(scope="module")
def deploy(client: Client) -> Deploy:
    return functools.partial(deploy_endpoint, client)
