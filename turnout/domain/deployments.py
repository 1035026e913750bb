"""A guarded blue/green deployment as the store keeps it: its policy, plan, phase and history.

Plain values (no I/O). `turnout.deploy.rollout` decides the next step from one of these;
the controller records that step, then takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from turnout.domain.checks import PredictionTest
from turnout.domain.shifting import (
    BlueGreenPolicy,
    CapacitySize,
    CapacityType,
    RoutingType,
    Step,
    TrafficRouting,
)


class Phase(StrEnum):
    PROVISIONING = "Provisioning"  # green starting; all traffic on blue
    VALIDATING = "Validating"  # green ready; its prediction test runs; all traffic on blue
    BAKING = "Baking"  # green has its step's share; alarms watched
    TERMINATION_WAIT = "TerminationWait"  # 100% green; blue idle, kept for a quick rollback
    ROLLING_BACK = "RollingBack"  # 100% blue; green being torn down
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ROLLBACK_FAILED = "RollbackFailed"

    @property
    def finished(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ROLLBACK_FAILED)


class Request(StrEnum):
    """What a person asked of a running deployment (Argo Rollouts' verbs)."""

    PAUSE = "pause"
    RESUME = "resume"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class RolloutPolicy:
    """SageMaker's DeploymentConfig (blue/green) plus turnout's INSUFFICIENT_DATA option."""

    blue_green: BlueGreenPolicy
    alarms: tuple[str, ...] = ()
    # At the end of a bake, an alarm with INSUFFICIENT_DATA pauses instead of going on.
    pause_on_insufficient_data: bool = False


@dataclass(frozen=True)
class Deployment:
    id: int
    endpoint: str
    blue_config: str
    green_config: str
    policy: RolloutPolicy
    steps: tuple[Step, ...]
    phase: Phase
    step: int  # index into steps (BAKING); len(steps) - 1 afterwards
    step_started_at: float | None  # when green got this step's share; None: not (yet/again)
    started_at: float
    revision: int = 0  # bumped by every write of the controller (compare-and-set)
    paused: bool = False
    requested: Request | None = None
    failure_reason: str | None = None
    finished_at: float | None = None
    # Must pass on the green fleet before any traffic shifts (ADR 0022); written once.
    prediction_test: PredictionTest | None = None

    @property
    def current(self) -> Step:
        return self.steps[self.step]


@dataclass(frozen=True)
class Event:
    """One line of a deployment's history."""

    at: float
    kind: str
    message: str
    step: int | None = None
    green_share: float | None = None  # green's share of traffic from `at` on, when it changed


def policy_document(policy: RolloutPolicy) -> dict[str, Any]:
    """The policy as SageMaker's DeploymentConfig (how the store keeps it, and how
    DescribeEndpoint shows LastDeploymentConfig), plus turnout's own member."""
    bg = policy.blue_green
    routing: dict[str, Any] = {
        "Type": bg.routing.type.value,
        "WaitIntervalInSeconds": bg.routing.wait_interval_s,
    }
    for member, size in (
        ("CanarySize", bg.routing.canary_size),
        ("LinearStepSize", bg.routing.linear_step_size),
    ):
        if size is not None:
            routing[member] = {"Type": size.type.value, "Value": size.value}
    blue_green: dict[str, Any] = {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": bg.termination_wait_s,
    }
    if bg.max_execution_timeout_s is not None:
        blue_green["MaximumExecutionTimeoutInSeconds"] = bg.max_execution_timeout_s
    document: dict[str, Any] = {"BlueGreenUpdatePolicy": blue_green}
    if policy.alarms:
        document["AutoRollbackConfiguration"] = {
            "Alarms": [{"AlarmName": name} for name in policy.alarms]
        }
    if policy.pause_on_insufficient_data:
        document["PauseOnInsufficientData"] = True
    return document


def policy_of(document: dict[str, Any]) -> RolloutPolicy:
    """A DeploymentConfig document (already type-checked) as a policy; validate separately."""
    bg = document["BlueGreenUpdatePolicy"]
    routing = bg["TrafficRoutingConfiguration"]
    alarms = (document.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    return RolloutPolicy(
        BlueGreenPolicy(
            TrafficRouting(
                RoutingType(routing["Type"]),
                int(routing["WaitIntervalInSeconds"]),
                canary_size=_size(routing.get("CanarySize")),
                linear_step_size=_size(routing.get("LinearStepSize")),
            ),
            termination_wait_s=int(bg.get("TerminationWaitInSeconds") or 0),
            max_execution_timeout_s=bg.get("MaximumExecutionTimeoutInSeconds"),
        ),
        alarms=tuple(a["AlarmName"] for a in alarms),
        pause_on_insufficient_data=bool(document.get("PauseOnInsufficientData")),
    )


def _size(document: dict[str, Any] | None) -> CapacitySize | None:
    if document is None:
        return None
    return CapacitySize(CapacityType(document["Type"]), int(document["Value"]))
