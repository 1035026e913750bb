"""The Ray backend: `turnout serve --backend ray` starts each instance as a Ray actor.

Connect first (`turnout.instances.ray.cluster.connect`); the actors belong to this
`turnout serve`'s Ray job, so they die with it even when it is killed. Each is restarted by
Ray without limit (`max_restarts=-1`) and spread over the nodes (`SPREAD`), reserving the
variant's instance type as logical CPUs and memory (`resources_for`).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import ray

from turnout.instances.backend import Instance, InstanceSpec
from turnout.instances.ray.actor import ActorPlan, InstanceActor
from turnout.instances.ray.instance import RayInstance
from turnout.instances.ray.resources import resources_for
from turnout.instances.supervisor import HealthPolicy
from turnout.models.s3 import S3Source


class RayBackend:
    def __init__(
        self,
        data_dir: Path,
        policy: HealthPolicy,
        max_payload_bytes: int,
        s3: S3Source | None = None,
    ) -> None:
        """`data_dir`: where each node keeps model copies and instance logs (the same path
        on every node, created there)."""
        self._data_dir = data_dir
        self._policy = policy
        self._max_payload_bytes = max_payload_bytes
        self._s3 = s3 or S3Source()
        self._actor_class = ray.remote(InstanceActor)
        # Actor names (`ray list actors`, ray.get_actor) of this server's instances: unique
        # across servers sharing the cluster and across restarts of one instance id.
        self._tag = uuid.uuid4().hex[:8]
        self._serial = 0
        self._instances: dict[str, RayInstance] = {}

    def start(self, spec: InstanceSpec) -> Instance:
        if spec.id in self._instances:
            raise ValueError(f"instance {spec.id} is already running")
        self._serial += 1
        reserve = resources_for(spec.instance_type)
        plan = ActorPlan(spec, self._policy, str(self._data_dir), self._s3, self._max_payload_bytes)
        actor = self._actor_class.options(
            name=f"{spec.id}#{self._serial}@{self._tag}",
            max_restarts=-1,
            max_task_retries=0,  # a call to a dead actor fails at once: the follower retries
            scheduling_strategy="SPREAD",
            num_cpus=reserve.num_cpus,
            memory=reserve.memory,
        ).remote(plan)
        instance = RayInstance(spec, actor, self._policy.startup_timeout)
        self._instances[spec.id] = instance
        return instance

    def instances(self) -> list[Instance]:
        return list(self._instances.values())

    async def stop(self, instance: Instance) -> None:
        running = self._instances.pop(instance.spec.id, None)
        if running is not None:
            await running.stop(self._policy.stop_grace)

    async def close(self) -> None:
        instances = list(self._instances.values())
        self._instances.clear()
        grace = self._policy.stop_grace
        await asyncio.gather(*(i.stop(grace) for i in instances), return_exceptions=True)
