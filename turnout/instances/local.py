"""The local backend: every instance is a supervised child process on this machine.

Built-in flavors run turnout's worker on a Unix socket; a command-flavor model runs its own
program on a loopback TCP port (SageMaker's SAGEMAKER_BIND_TO_PORT convention).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from turnout.instances.backend import Address, Instance, InstanceSpec, runs_command
from turnout.instances.lifeline import PARENT_VARIABLE
from turnout.instances.supervisor import HealthPolicy, Launch, SupervisedInstance
from turnout.models.artifact import prepare
from turnout.models.flavors.command import NAME as COMMAND
from turnout.models.s3 import S3Source, localize


class LocalBackend:
    def __init__(
        self,
        data_dir: Path,
        policy: HealthPolicy,
        max_payload_bytes: int,
        s3: S3Source | None = None,
    ) -> None:
        self._models_dir = data_dir / "models"
        self._downloads_dir = data_dir / "downloads"  # s3:// artifacts, as fetched
        self._s3 = s3 or S3Source()
        self._logs_dir = data_dir / "logs"
        self._policy = policy
        self._max_payload_bytes = max_payload_bytes
        # Unix socket paths are limited to ~107 bytes; a data dir can be deeper than that.
        self._sockets_dir = Path(tempfile.mkdtemp(prefix="turnout-"))
        self._instances: dict[str, SupervisedInstance] = {}
        self._serial = 0

    def start(self, spec: InstanceSpec) -> Instance:
        if spec.id in self._instances:
            raise ValueError(f"instance {spec.id} is already running")
        self._serial += 1
        command = runs_command(spec.model)
        address = (
            _loopback_port()
            if command
            else Address.unix(str(self._sockets_dir / f"i{self._serial}.sock"))
        )
        log_path = self._logs_dir / spec.endpoint / spec.fleet / f"{spec.variant}-{spec.index}.log"
        instance = SupervisedInstance(
            spec,
            address,
            log_path,
            lambda: self._prepare(spec),
            self._policy,
            # A port is free only when probed: a restart takes a new one (a Unix socket
            # path is ours alone and is kept).
            fresh_address=_loopback_port if command else None,
        )
        self._instances[spec.id] = instance
        return instance

    def instances(self) -> list[Instance]:
        return list(self._instances.values())

    async def stop(self, instance: Instance) -> None:
        supervised = self._instances.pop(instance.spec.id, None)
        if supervised is not None:
            await supervised.stop()

    async def close(self) -> None:
        instances = list(self._instances.values())
        self._instances.clear()
        await asyncio.gather(*(i.stop() for i in instances), return_exceptions=True)
        shutil.rmtree(self._sockets_dir, ignore_errors=True)

    def _prepare(self, spec: InstanceSpec) -> Callable[[Address], Launch]:
        """Prepare the artifact (runs in a thread); give the process to run at an address."""
        model = localize(spec.model, self._downloads_dir, self._s3)
        prepared = prepare(model, self._models_dir)
        env = {
            **os.environ,
            **spec.model.environment,
            "SM_MODEL_DIR": str(prepared.path),
            "TURNOUT_INSTANCE": spec.id,
            PARENT_VARIABLE: str(os.getpid()),
        }
        if prepared.flavor == COMMAND:
            program = list(spec.model.command or [str(prepared.path / "serve")])

            def command_at(address: Address) -> Launch:
                return Launch(
                    argv=[sys.executable, "-m", "turnout.instances.launch", "--", *program],
                    env={**env, "SAGEMAKER_BIND_TO_PORT": str(address.port)},
                    cwd=prepared.path,
                )

            return command_at

        def worker_at(address: Address) -> Launch:
            argv = [
                sys.executable, "-m", "turnout.instances.worker",
                "--model-dir", str(prepared.path), "--flavor", prepared.flavor,
                "--bind", str(address), "--max-payload-bytes", str(self._max_payload_bytes),
            ]  # fmt: skip
            return Launch(argv=argv, env=env, cwd=prepared.path)

        return worker_at


def _loopback_port() -> Address:
    return Address.tcp("127.0.0.1", _free_port())


def _free_port() -> int:
    """A loopback port free right now (the program binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
