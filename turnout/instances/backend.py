"""What the control plane and the router need from wherever instances run.

The local backend runs each instance as a child process of `turnout serve`; the Ray backend
places them on a Ray cluster (turnout.instances.ray). Either way the router talks to an
instance directly at its `Address`, never through the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from turnout.domain.resources import Model
from turnout.instances.usage import Usage
from turnout.models.flavors.command import NAME as COMMAND

# How long turnout's worker keeps an idle keep-alive connection open (uvicorn's
# timeout_keep_alive): the router's pools keep theirs open for less.
WORKER_KEEP_ALIVE = 3600


def runs_command(model: Model) -> bool:
    """Whether instances of `model` run its own program (the command flavor: any HTTP
    server, whose keep-alive time we don't know) rather than turnout's worker."""
    return model.flavor == COMMAND or model.command is not None


@dataclass(frozen=True)
class Address:
    """Where an instance listens: a Unix socket path, or a TCP host and port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    @classmethod
    def unix(cls, path: str) -> Address:
        return cls(path=path)

    @classmethod
    def tcp(cls, host: str, port: int) -> Address:
        return cls(host=host, port=port)

    @classmethod
    def parse(cls, text: str) -> Address:
        """`unix:/run/x.sock` or `tcp:127.0.0.1:9000` (the worker's --bind syntax)."""
        kind, _, rest = text.partition(":")
        if kind == "unix" and rest:
            return cls.unix(rest)
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            if host and port.isdigit():
                return cls.tcp(host, int(port))
        raise ValueError(f"bad address {text!r}: use unix:PATH or tcp:HOST:PORT")

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path is not None else f"tcp:{self.host}:{self.port}"


class InstanceState(StrEnum):
    STARTING = "Starting"  # process launched, model loading, /ping not yet 200
    READY = "Ready"  # serving; the router may send it traffic
    RESTARTING = "Restarting"  # crashed or unresponsive; waiting out the back-off
    STOPPING = "Stopping"  # draining and shutting down on purpose
    STOPPED = "Stopped"
    FAILED = "Failed"  # never became ready; see last_error


class InstanceStartFailed(Exception):
    """An instance could not start (artifact, model load, readiness timeout); str is why."""


@dataclass(frozen=True)
class InstanceSpec:
    """One instance to run: which endpoint, fleet (endpoint config) and variant it serves."""

    endpoint: str
    fleet: str
    variant: str
    index: int
    model: Model
    # The variant's SageMaker instance type (ml.m5.large, ...): the resources a backend that
    # places instances on a cluster reserves for it (None: that backend's default).
    instance_type: str | None = None

    @property
    def id(self) -> str:
        return f"{self.endpoint}/{self.fleet}/{self.variant}/{self.index}"


class Instance(Protocol):
    """A running (or starting, or restarting) copy of a variant's model."""

    @property
    def spec(self) -> InstanceSpec: ...

    @property
    def address(self) -> Address: ...

    @property
    def state(self) -> InstanceState: ...

    @property
    def ready(self) -> bool:
        """True when the router may send it requests (read on the hot path)."""
        ...

    @property
    def pid(self) -> int | None: ...

    @property
    def restarts(self) -> int: ...

    @property
    def last_error(self) -> str | None: ...

    @property
    def log(self) -> str:
        """Where the instance's output goes (a file path for local instances)."""
        ...

    @property
    def placement(self) -> str | None:
        """Where a cluster backend placed it (a Ray node id); None for a local process."""
        ...

    @property
    def usage(self) -> Sequence[Usage]:
        """Recent CPU and memory samples of its processes, oldest first (maybe none yet)."""
        ...

    async def wait_started(self) -> None:
        """Return once the instance first answered /ping; raise InstanceStartFailed if it can't."""
        ...

    def report_unresponsive(self, reason: str) -> None:
        """The router saw it hang (model timeout): take it out of rotation and restart it."""
        ...


class InstanceBackend(Protocol):
    def start(self, spec: InstanceSpec) -> Instance:
        """Launch an instance; returns at once with the instance Starting."""
        ...

    def instances(self) -> list[Instance]:
        """Every instance started and not stopped yet."""
        ...

    async def stop(self, instance: Instance) -> None:
        """Stop an instance gracefully (it finishes what it is answering), then for good."""
        ...

    async def close(self) -> None:
        """Stop every instance this backend started."""
        ...
