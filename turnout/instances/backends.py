"""Where `turnout serve` runs instances: `--backend local` (child processes, the default) or
`--backend ray` (actors on a Ray cluster, turnout.instances.ray)."""

from __future__ import annotations

from turnout.domain.async_inference import MAX_INPUT_BYTES
from turnout.instances.backend import InstanceBackend
from turnout.instances.local import LocalBackend
from turnout.instances.supervisor import HealthPolicy
from turnout.models.s3 import S3Source
from turnout.settings import Settings

BACKENDS = ("local", "ray")


class BackendError(Exception):
    """The backend cannot start; str is one line that says what to do."""


def make_backend(settings: Settings, s3: S3Source) -> InstanceBackend:
    """The backend the settings name; for Ray, joins the cluster (blocks: before the loop)."""
    policy = HealthPolicy(
        startup_timeout=settings.startup_timeout,
        unresponsive_after=settings.model_timeout,
        memory_limit_mb=settings.instance_memory_limit_mb,
    )
    # An instance takes bodies up to an asynchronous request's input (1 GB); the router
    # bounds real-time invocations to max_payload_bytes before they get there.
    max_body = max(settings.max_payload_bytes, MAX_INPUT_BYTES)
    if settings.backend == "local":
        return LocalBackend(settings.data_dir, policy, max_body, s3)
    if settings.backend == "ray":
        from turnout.instances.ray.cluster import connect

        connect(settings.ray_address)
        from turnout.instances.ray.backend import RayBackend

        return RayBackend(settings.data_dir, policy, max_body, s3)
    raise BackendError(f"unknown backend {settings.backend!r}: use one of {', '.join(BACKENDS)}")
