"""Guarded deployments in the native REST API: the DeploymentConfig document (SageMaker's
member names, as boto3 sends them), the deployment and its history, and the routes
`GET /api/v1/endpoints/{name}/deployment` and `POST .../deployment/{action}`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from turnout.deploy.rollout import green_share
from turnout.domain.checks import (
    DEFAULT_BATCH,
    DEFAULT_TIMEOUT_S,
    MAX_INLINE_ROWS,
    Bound,
    PredictionTest,
    Row,
    Task,
    Threshold,
)
from turnout.domain.deployments import (
    Deployment,
    Event,
    Request,
    RolloutPolicy,
    policy_document,
    policy_of,
)
from turnout.service import ControlPlane

_STRICT = ConfigDict(extra="forbid")


class CapacitySizeIn(BaseModel):
    model_config = _STRICT
    Type: Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"]
    Value: int


class TrafficRoutingIn(BaseModel):
    model_config = _STRICT
    Type: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    WaitIntervalInSeconds: int = Field(description="Baking time of each step, 0-3600 s.")
    CanarySize: CapacitySizeIn | None = None
    LinearStepSize: CapacitySizeIn | None = None


class BlueGreenIn(BaseModel):
    model_config = _STRICT
    TrafficRoutingConfiguration: TrafficRoutingIn
    TerminationWaitInSeconds: int = 0
    MaximumExecutionTimeoutInSeconds: int | None = None


class AlarmIn(BaseModel):
    model_config = _STRICT
    AlarmName: str


class AutoRollbackIn(BaseModel):
    model_config = _STRICT
    Alarms: list[AlarmIn] = Field(default_factory=list, max_length=10)


class DeploymentConfigIn(BaseModel):
    """SageMaker's DeploymentConfig (blue/green), plus turnout's PauseOnInsufficientData."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                        "WaitIntervalInSeconds": 300,
                    },
                    "TerminationWaitInSeconds": 120,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "digits-5xx"}]},
            }
        },
    )
    BlueGreenUpdatePolicy: BlueGreenIn
    AutoRollbackConfiguration: AutoRollbackIn | None = None
    PauseOnInsufficientData: bool = Field(
        False,
        description="turnout's own: an alarm with INSUFFICIENT_DATA at the end of a bake "
        "pauses the deployment instead of letting it go on.",
    )

    def policy(self) -> RolloutPolicy:
        return policy_of(self.model_dump(exclude_none=True))


class PredictionRowIn(BaseModel):
    model_config = _STRICT
    inputs: list[Any] = Field(description="One row of inputs, as the model takes it.")
    expected: Any = Field(description="The answer expected for it.")


class PredictionTestIn(BaseModel):
    """turnout's own: a prediction test the green fleet must pass before any traffic shifts
    (docs/prediction-tests.md); not part of SageMaker's API."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "rows": [{"inputs": [0.0, 1.0], "expected": 3}],
                "min": {"accuracy": 0.9},
            }
        },
    )
    rows: list[PredictionRowIn] = Field(min_length=1, max_length=MAX_INLINE_ROWS)
    min: dict[str, float] = Field(
        default_factory=dict, description="Metric → lowest value allowed, e.g. accuracy: 0.9."
    )
    max: dict[str, float] = Field(
        default_factory=dict, description="Metric → highest value allowed, e.g. mae: 0.5."
    )
    task: Task | None = Field(None, description="Default: from the expected answers.")
    batch_size: int = Field(DEFAULT_BATCH, description="Rows per request.")
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, description="Longest the test may run.")

    def test(self) -> PredictionTest:
        return PredictionTest(
            rows=tuple(Row(tuple(r.inputs), r.expected) for r in self.rows),
            thresholds=(
                *(Threshold(k, Bound.MIN, v) for k, v in self.min.items()),
                *(Threshold(k, Bound.MAX, v) for k, v in self.max.items()),
            ),
            task=self.task,
            batch_size=self.batch_size,
            timeout_s=self.timeout_s,
        )


class PredictionTestOut(BaseModel):
    rows: int
    min: dict[str, float]
    max: dict[str, float]
    task: str | None
    batch_size: int
    timeout_s: float

    @classmethod
    def of(cls, test: PredictionTest | None) -> PredictionTestOut | None:
        if test is None:
            return None
        return cls(
            rows=len(test.rows),
            min={t.metric: t.value for t in test.thresholds if t.bound is Bound.MIN},
            max={t.metric: t.value for t in test.thresholds if t.bound is Bound.MAX},
            task=test.task.value if test.task is not None else None,
            batch_size=test.batch_size,
            timeout_s=test.timeout_s,
        )


class StepOut(BaseModel):
    green_share: float
    bake_s: int


class EventOut(BaseModel):
    at: float
    kind: str
    message: str
    step: int | None
    green_share: float | None


class DeploymentOut(BaseModel):
    id: int
    endpoint: str
    blue_config: str
    green_config: str
    deployment_config: dict[str, Any]
    steps: list[StepOut]
    phase: str
    step: int
    step_started_at: float | None
    green_share: float = Field(description="Green's share of traffic in the recorded state.")
    started_at: float
    paused: bool
    requested: str | None
    failure_reason: str | None
    finished_at: float | None
    alarms: dict[str, str] = Field(
        default_factory=dict, description="In progress: each rollback alarm's state."
    )
    prediction_test: PredictionTestOut | None = Field(
        None, description="The test green must pass before any traffic shifts (its rows not shown)."
    )
    events: list[EventOut] = Field(default_factory=list)

    @classmethod
    def of(cls, d: Deployment, events: list[Event] | None = None) -> DeploymentOut:
        return cls(
            id=d.id,
            endpoint=d.endpoint,
            blue_config=d.blue_config,
            green_config=d.green_config,
            deployment_config=policy_document(d.policy),
            steps=[StepOut(green_share=s.green_share, bake_s=s.bake_s) for s in d.steps],
            phase=d.phase.value,
            step=d.step,
            step_started_at=d.step_started_at,
            green_share=green_share(d, green_ready=True),
            started_at=d.started_at,
            paused=d.paused,
            requested=None if d.requested is None else d.requested.value,
            failure_reason=d.failure_reason,
            finished_at=d.finished_at,
            prediction_test=PredictionTestOut.of(d.prediction_test),
            events=[EventOut(**vars(e)) for e in events or []],
        )


class DeploymentsOut(BaseModel):
    current: DeploymentOut | None = Field(description="The deployment in progress, if any.")
    past: list[DeploymentOut] = Field(description="Finished deployments, newest first.")


def deployments_of(control: ControlPlane, name: str, limit: int) -> DeploymentsOut:
    """The endpoint's deployment in progress (with its alarms' states) and its past ones."""
    found = [DeploymentOut.of(d, events) for d, events in control.deployments(name, limit)]
    current = next((d for d in found if d.finished_at is None), None)
    if current is not None:
        names = current.deployment_config.get("AutoRollbackConfiguration", {}).get("Alarms")
        current.alarms = control.alarm_states([a["AlarmName"] for a in names or []])
    return DeploymentsOut(current=current, past=[d for d in found if d is not current])


def deployment_routes(control: ControlPlane, errors: dict[int | str, dict[str, Any]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/endpoints/{name}/deployment", tags=["deployments"])

    @router.get("", responses=errors)
    def describe_deployments(name: str, limit: int = 20) -> DeploymentsOut:
        """The endpoint's deployment in progress and its past ones, with their history."""
        return deployments_of(control, name, limit)

    @router.post("/{action}", status_code=202, responses=errors)
    def request_deployment(name: str, action: Request) -> DeploymentOut:
        """pause, resume, promote (skip the remaining bakes) or rollback the deployment."""
        return DeploymentOut.of(control.request_deployment(name, action))

    return router
