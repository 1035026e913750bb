"""The local backend: every instance is a supervised child process on this machine.

Built-in flavors run turnout's worker on a Unix socket; a command-flavor model runs its own
program on a loopback TCP port (SageMaker's SAGEMAKER_BIND_TO_PORT convention).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from turnout.instances.backend import Address, Instance, InstanceSpec, runs_command
from turnout.instances.commands import free_address, launcher, log_path
from turnout.instances.supervisor import HealthPolicy, SupervisedInstance
from turnout.models.s3 import S3Source


class LocalBackend:
    def __init__(
        self,
        data_dir: Path,
        policy: HealthPolicy,
        max_payload_bytes: int,
        s3: S3Source | None = None,
    ) -> None:
        self._data_dir = data_dir  # models/, downloads/ (s3:// artifacts), logs/
        self._s3 = s3 or S3Source()
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
            free_address()
            if command
            else Address.unix(str(self._sockets_dir / f"i{self._serial}.sock"))
        )
        instance = SupervisedInstance(
            spec,
            address,
            log_path(self._data_dir / "logs", spec),
            lambda: launcher(spec, self._data_dir, self._s3, self._max_payload_bytes),
            self._policy,
            # A port is free only when probed: a restart takes a new one (a Unix socket
            # path is ours alone and is kept).
            fresh_address=free_address if command else None,
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
