"""The native REST API of shadow tests (inference experiments) and shadow comparisons."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from turnout.domain.names import NAME_PATTERN
from turnout.shadow.experiments import InferenceExperiments


class RealTimeIn(BaseModel):
    InstanceType: str = "ml.m5.large"
    InstanceCount: int = Field(default=1, ge=1, le=64)


class InfrastructureIn(BaseModel):
    InfrastructureType: Literal["RealTimeInference"] = "RealTimeInference"
    RealTimeInferenceConfig: RealTimeIn = RealTimeIn()


class ModelVariantIn(BaseModel):
    ModelName: str = Field(pattern=NAME_PATTERN, max_length=63)
    VariantName: str = Field(pattern=NAME_PATTERN, max_length=63)
    InfrastructureConfig: InfrastructureIn = InfrastructureIn()


class ShadowVariantIn(BaseModel):
    ShadowModelVariantName: str = Field(pattern=NAME_PATTERN, max_length=63)
    SamplingPercentage: int = Field(ge=1, le=100)


class ShadowModeIn(BaseModel):
    SourceModelVariantName: str = Field(pattern=NAME_PATTERN, max_length=63)
    ShadowModelVariants: list[ShadowVariantIn] = Field(min_length=1, max_length=1)


class ScheduleIn(BaseModel):
    StartTime: float | None = Field(None, description="Epoch seconds; default: now.")
    EndTime: float | None = Field(None, description="Epoch seconds; default: 7 days later.")


class ToleranceIn(BaseModel):
    rtol: float = Field(default=1e-5, ge=0, allow_inf_nan=False)
    atol: float = Field(default=1e-8, ge=0, allow_inf_nan=False)


class InferenceExperimentIn(BaseModel):
    """CreateInferenceExperiment's fields, plus the comparison's tolerance for numbers."""

    Name: str = Field(pattern=NAME_PATTERN, max_length=63)
    Type: Literal["ShadowMode"] = "ShadowMode"
    EndpointName: str = Field(pattern=NAME_PATTERN, max_length=63)
    ModelVariants: list[ModelVariantIn] = Field(min_length=2, max_length=2)
    ShadowModeConfig: ShadowModeIn
    Schedule: ScheduleIn | None = None
    Description: str | None = Field(None, max_length=1024)
    RoleArn: str | None = None
    Tolerance: ToleranceIn | None = Field(
        None, description="Numbers agree when |shadow - production| <= atol + rtol*|production|."
    )


class StopIn(BaseModel):
    ModelVariantActions: dict[str, Literal["Promote", "Remove", "Retain"]] = Field(
        min_length=1, max_length=2
    )
    DesiredState: Literal["Completed", "Cancelled"] = "Completed"
    Reason: str | None = Field(None, max_length=1024)


def shadow_routes(
    experiments: InferenceExperiments, errors: dict[int | str, dict[str, Any]]
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["shadow tests"])

    @router.get("/endpoints/{name}/shadow-report", responses=errors)
    def shadow_report(
        name: str, since: float = Query(3600, gt=0, le=30 * 86400)
    ) -> list[dict[str, Any]]:
        """Each shadow variant's comparison with production over the last `since` seconds."""
        return experiments.endpoint_reports(name, since)

    @router.post("/inference-experiments", status_code=201, responses=errors)
    def create(body: InferenceExperimentIn) -> dict[str, Any]:
        """Start a shadow test: the endpoint switches to a config with the shadow variant."""
        return experiments.create(body.model_dump(exclude_none=True))

    @router.get("/inference-experiments", responses=errors)
    def list_all() -> list[dict[str, Any]]:
        return experiments.list_all()

    @router.get("/inference-experiments/{name}", responses=errors)
    def describe(name: str) -> dict[str, Any]:
        return experiments.describe(name)

    @router.get("/inference-experiments/{name}/report", responses=errors)
    def report(name: str) -> dict[str, Any]:
        """Agreement with production, latency and errors of both sides, examples."""
        return experiments.report(name)

    @router.post("/inference-experiments/{name}/stop", responses=errors)
    def stop(name: str, body: StopIn) -> dict[str, Any]:
        """Promote, Remove or Retain each variant; the endpoint switches blue/green."""
        return experiments.stop(name, body.ModelVariantActions, body.DesiredState, body.Reason)

    return router
