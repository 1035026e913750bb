"""What an instance reserves on a Ray cluster: its variant's SageMaker instance type, as
Ray logical resources (CPUs and memory).

Ray's resources are logical: they decide where actors fit, they do not limit what a
process uses (turnout's memory limit still restarts an instance that grows too large).
GPU types map to their CPUs and memory only: turnout's flavors predict on CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("turnout.instances")

GIB = 1024**3


@dataclass(frozen=True)
class Resources:
    num_cpus: float
    memory: int  # bytes


# SageMaker's real-time inference types: (vCPUs, GiB of memory), as AWS lists them.
INSTANCE_TYPES: dict[str, tuple[int, int]] = {
    "ml.t2.medium": (2, 4),
    "ml.t2.large": (2, 8),
    "ml.t2.xlarge": (4, 16),
    "ml.t2.2xlarge": (8, 32),
    "ml.m5.large": (2, 8),
    "ml.m5.xlarge": (4, 16),
    "ml.m5.2xlarge": (8, 32),
    "ml.m5.4xlarge": (16, 64),
    "ml.m5.12xlarge": (48, 192),
    "ml.m5.24xlarge": (96, 384),
    "ml.m6i.large": (2, 8),
    "ml.m6i.xlarge": (4, 16),
    "ml.m6i.2xlarge": (8, 32),
    "ml.c5.large": (2, 4),
    "ml.c5.xlarge": (4, 8),
    "ml.c5.2xlarge": (8, 16),
    "ml.c5.4xlarge": (16, 32),
    "ml.c5.9xlarge": (36, 72),
    "ml.c5.18xlarge": (72, 144),
    "ml.c6i.large": (2, 4),
    "ml.c6i.xlarge": (4, 8),
    "ml.r5.large": (2, 16),
    "ml.r5.xlarge": (4, 32),
    "ml.r5.2xlarge": (8, 64),
    "ml.g4dn.xlarge": (4, 16),
    "ml.g5.xlarge": (4, 16),
}

# No instance type, or one not in the table: a small share of a node, so that a cluster
# started with a few logical CPUs still places every instance.
DEFAULT = Resources(num_cpus=1, memory=2 * GIB)

_warned: set[str] = set()


def resources_for(instance_type: str | None) -> Resources:
    """The logical resources an instance of `instance_type` reserves."""
    if instance_type is None:
        return DEFAULT
    known = INSTANCE_TYPES.get(instance_type.lower())
    if known is None:
        if instance_type not in _warned:  # once per type, not once per instance
            _warned.add(instance_type)
            log.warning(
                "instance type %s is not in turnout's table; reserving %g CPU and %d GiB",
                instance_type, DEFAULT.num_cpus, DEFAULT.memory // GIB,
            )  # fmt: skip
        return DEFAULT
    cpus, gib = known
    return Resources(num_cpus=cpus, memory=gib * GIB)
