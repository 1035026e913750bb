"""What runs on a Ray node: an actor that supervises one instance's process there.

The actor wraps the local backend's `SupervisedInstance` (readiness, health checks, restarts
with back-off, port moves, usage samples, the log file), so an instance behaves the same on
a node as on the machine of `turnout serve`; it listens on the node's address instead of a
Unix socket. `turnout serve` follows it with `observe`, a long poll that answers as soon as
something changes. Ray restarts the actor when its process or its node dies; the restarted
actor starts the instance afresh on whichever node Ray chose (`incarnation` tells them apart).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import ray

from turnout.instances.backend import Address, InstanceSpec, InstanceState
from turnout.instances.commands import free_address, launcher, log_path
from turnout.instances.supervisor import HealthPolicy, SupervisedInstance
from turnout.instances.usage import Usage
from turnout.models.s3 import S3Source

# How often a long poll looks for a change (on the actor's loop: cheap attribute reads).
_LOOK_EVERY = 0.05

Key = tuple[object, ...]  # the incarnation first, then what identifies the instance's state


@dataclass(frozen=True)
class ActorPlan:
    """Everything the actor needs, pickled to its node."""

    spec: InstanceSpec
    policy: HealthPolicy
    data_dir: str  # models, downloads and logs, at the same path on every node
    s3: S3Source
    max_payload_bytes: int


@dataclass(frozen=True)
class Observation:
    """The instance as its actor sees it, with the usage samples taken since last asked."""

    incarnation: str  # new each time Ray (re)starts the actor
    placement: str  # the Ray node id
    host: str  # the node's address
    state: InstanceState
    ready: bool
    address: Address
    pid: int | None
    restarts: int
    last_error: str | None
    log: str
    usage: tuple[Usage, ...]

    @property
    def key(self) -> Key:
        """What a long poll waits to see change (usage samples alone don't end it)."""
        return _key(self.incarnation, self)


class InstanceActor:
    """Runs as an async Ray actor; `turnout.instances.ray.backend` wraps it with ray.remote."""

    def __init__(self, plan: ActorPlan) -> None:
        self._plan = plan
        self._incarnation = uuid.uuid4().hex
        self._placement = ray.get_runtime_context().get_node_id()
        self._host = ray.util.get_node_ip_address()
        self._instance: SupervisedInstance | None = None

    def _supervised(self) -> SupervisedInstance:
        """The instance, started at the first call: on the actor's event loop, whose thread
        lives as long as the actor, so the process's parent-death signal fires with it."""
        if self._instance is None:
            plan, host = self._plan, self._host
            data_dir = Path(plan.data_dir)
            self._instance = SupervisedInstance(
                plan.spec,
                free_address(host),
                log_path(data_dir / "logs", plan.spec),
                lambda: launcher(plan.spec, data_dir, plan.s3, plan.max_payload_bytes),
                plan.policy,
                fresh_address=lambda: free_address(host),
            )
        return self._instance

    async def observe(self, known: Key | None, since: float, wait: float) -> Observation:
        """The instance now, once it differs from `known` or after `wait` seconds; usage
        samples taken after `since` (epoch seconds, by this node's clock if `known` is of
        this incarnation; all of them otherwise)."""
        instance = self._supervised()
        if known is None or known[0] != self._incarnation:
            since = 0.0
        deadline = time.monotonic() + wait
        while _key(self._incarnation, instance) == known and time.monotonic() < deadline:
            await asyncio.sleep(_LOOK_EVERY)
        return self._observation(instance, since)

    async def report_unresponsive(self, reason: str) -> None:
        self._supervised().report_unresponsive(reason)

    async def stop(self) -> None:
        """Stop the process gracefully (the policy's stop grace); the actor is killed next."""
        if self._instance is not None:
            await self._instance.stop()

    def _observation(self, instance: SupervisedInstance, since: float) -> Observation:
        return Observation(
            incarnation=self._incarnation,
            placement=self._placement,
            host=self._host,
            state=instance.state,
            ready=instance.ready,
            address=instance.address,
            pid=instance.pid,
            restarts=instance.restarts,
            last_error=instance.last_error,
            log=instance.log,
            usage=tuple(u for u in instance.usage if u.at > since),
        )


def _key(incarnation: str, instance: SupervisedInstance | Observation) -> Key:
    return (incarnation, instance.state, instance.ready, instance.address, instance.pid,
            instance.restarts, instance.last_error)  # fmt: skip
