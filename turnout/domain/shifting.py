"""A blue/green traffic-shifting policy and its steps (SageMaker's BlueGreenUpdatePolicy).

Plain values; `turnout.deploy.shifting` validates a policy and plans its steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RoutingType(StrEnum):
    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"


class CapacityType(StrEnum):
    INSTANCE_COUNT = "INSTANCE_COUNT"
    CAPACITY_PERCENT = "CAPACITY_PERCENT"


@dataclass(frozen=True)
class CapacitySize:
    type: CapacityType
    value: int

    def fraction(self, fleet_instances: int) -> float:
        """The share of the fleet this size stands for (may exceed 1 before validation)."""
        if self.type is CapacityType.CAPACITY_PERCENT:
            return self.value / 100
        return self.value / max(fleet_instances, 1)


@dataclass(frozen=True)
class TrafficRouting:
    type: RoutingType
    wait_interval_s: int
    canary_size: CapacitySize | None = None
    linear_step_size: CapacitySize | None = None


@dataclass(frozen=True)
class BlueGreenPolicy:
    routing: TrafficRouting
    termination_wait_s: int = 0
    max_execution_timeout_s: int | None = None


@dataclass(frozen=True)
class Step:
    green_share: float  # 0 < share ≤ 1
    bake_s: int
