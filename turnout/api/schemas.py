"""The native REST API's JSON documents (pydantic), and conversions from resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from turnout.api.capture_schemas import DataCaptureIn, DataCaptureOut, DataCaptureStatusOut
from turnout.api.deployments import DeploymentConfigIn, DeploymentOut, PredictionTestIn
from turnout.capture.hub import CaptureStatus
from turnout.domain.resources import (
    DataCapture,
    Endpoint,
    EndpointConfig,
    Model,
    ProductionVariant,
)
from turnout.instances.backend import Instance
from turnout.models import batching, registry

_STRICT = ConfigDict(extra="forbid")


class ModelIn(BaseModel):
    model_config = _STRICT
    name: str = Field(description="1-63 letters, digits and hyphens.", examples=["digits-a"])
    artifact: str = Field(
        description="A directory, a .tar.gz (SageMaker model.tar.gz layout) or a file:// URL.",
        examples=["/models/digits-a"],
    )
    flavor: str = Field(
        "auto",
        description="How to serve it: auto detects from the artifact, or one of "
        + ", ".join(registry.names()[1:])
        + ".",
    )
    command: list[str] | None = Field(
        None,
        description="For the command flavor: the program serving /ping and /invocations on "
        "127.0.0.1:$SAGEMAKER_BIND_TO_PORT, run in the unpacked artifact's directory.",
    )
    environment: dict[str, str] = Field(default_factory=dict)
    image: str | None = None
    execution_role_arn: str | None = None
    mode: Literal["single_model", "multi_model"] = Field(
        "single_model",
        description="multi_model: artifact is a directory or s3:// prefix of many models, "
        "each invocation names one (TargetModel); see docs/multi-model.md.",
    )


class BatchingOut(BaseModel):
    max_batch_size: int = Field(description="Requests per predict call at most (1: off).")
    max_batch_delay_ms: float = Field(
        description="How long a lone request may wait for company (0: never waits)."
    )
    applies: str = Field(
        description="Whether the model's flavor batches: yes, no, or the condition."
    )

    @classmethod
    def of(cls, model: Model) -> BatchingOut:
        found = batching.summary(model.environment, registry.batching_applies(model.flavor))
        return cls(
            max_batch_size=found.max_batch_size,
            max_batch_delay_ms=found.max_batch_delay_ms,
            applies=found.applies,
        )


class ModelOut(BaseModel):
    name: str
    artifact: str
    flavor: str
    command: list[str] | None
    environment: dict[str, str]
    image: str | None
    execution_role_arn: str | None
    created_at: float
    mode: Literal["single_model", "multi_model"]
    batching: BatchingOut = Field(
        description="Adaptive batching, from TURNOUT_MAX_BATCH_SIZE and "
        "TURNOUT_MAX_BATCH_DELAY_MS in the environment."
    )
    warnings: list[str] = Field(
        default_factory=list, description="Problems found at registration (e.g. requirements)."
    )

    @classmethod
    def of(cls, model: Model, warnings: tuple[str, ...] = ()) -> ModelOut:
        return cls(
            name=model.name,
            artifact=model.artifact,
            flavor=model.flavor,
            command=list(model.command) if model.command is not None else None,
            environment=dict(model.environment),
            image=model.image,
            execution_role_arn=model.execution_role_arn,
            mode="multi_model" if model.multi_model else "single_model",
            created_at=model.created_at,
            batching=BatchingOut.of(model),
            warnings=list(warnings),
        )


class VariantIn(BaseModel):
    model_config = _STRICT
    name: str = Field(examples=["A"])
    model: str = Field(examples=["digits-a"])
    instance_count: int = Field(1, description="Instances (processes) serving this variant.")
    weight: float = Field(1.0, description="Share of traffic: weight / sum of weights.")
    instance_type: str | None = None

    def resource(self) -> ProductionVariant:
        return ProductionVariant(
            name=self.name,
            model_name=self.model,
            initial_instance_count=self.instance_count,
            initial_weight=self.weight,
            instance_type=self.instance_type,
        )


class EndpointConfigIn(BaseModel):
    model_config = _STRICT
    name: str
    variants: list[VariantIn]
    data_capture: DataCaptureIn | None = Field(
        None, description="Record a sample of invocations (SageMaker's DataCaptureConfig)."
    )
    shadow_variants: list[VariantIn] = Field(
        default_factory=list,
        description="Variants that get a copy of a sample of the traffic and never answer "
        "callers (SageMaker's ShadowProductionVariants): weight / production weight is the "
        "share mirrored. With shadows: one production variant and one shadow variant.",
    )

    def resource(self) -> EndpointConfig:
        capture = self.data_capture.resource() if self.data_capture else None
        return EndpointConfig(
            self.name,
            tuple(v.resource() for v in self.variants),
            data_capture=capture,
            shadow_variants=tuple(v.resource() for v in self.shadow_variants),
        )


class VariantOut(BaseModel):
    name: str
    model: str
    instance_count: int
    weight: float
    instance_type: str | None


class EndpointConfigOut(BaseModel):
    name: str
    variants: list[VariantOut]
    created_at: float
    data_capture: DataCaptureOut | None = None
    shadow_variants: list[VariantOut] = Field(default_factory=list)

    @classmethod
    def of(cls, config: EndpointConfig) -> EndpointConfigOut:
        def out(v: ProductionVariant) -> VariantOut:
            return VariantOut(
                name=v.name,
                model=v.model_name,
                instance_count=v.initial_instance_count,
                weight=v.initial_weight,
                instance_type=v.instance_type,
            )

        return cls(
            name=config.name,
            variants=[out(v) for v in config.variants],
            created_at=config.created_at,
            data_capture=DataCaptureOut.of(config.data_capture),
            shadow_variants=[out(v) for v in config.shadow_variants],
        )


class EndpointIn(BaseModel):
    model_config = _STRICT
    name: str = Field(examples=["digits"])
    config: str = Field(description="Endpoint config name.", examples=["digits-ab"])


class EndpointUpdateIn(BaseModel):
    model_config = _STRICT
    config: str = Field(description="Switch to this endpoint config (blue/green).")
    deployment_config: DeploymentConfigIn | None = Field(
        None,
        description="Shift traffic step by step, baking and watching alarms (SageMaker's "
        "DeploymentConfig); without it, all at once.",
    )
    prediction_test: PredictionTestIn | None = Field(
        None,
        description="With deployment_config: rows and thresholds the new fleet must pass "
        "before any traffic shifts, else the deployment rolls back (turnout's own).",
    )


class TrafficVariantIn(BaseModel):
    model_config = _STRICT
    name: str
    weight: float | None = None
    instance_count: int | None = None


class TrafficIn(BaseModel):
    model_config = _STRICT
    variants: list[TrafficVariantIn] = Field(
        description="Variants to change; others keep their weight and instance count.",
        examples=[[{"name": "A", "weight": 0.9}, {"name": "B", "weight": 0.1}]],
    )


class InstanceOut(BaseModel):
    id: str
    state: str
    ready: bool
    pid: int | None
    restarts: int
    last_error: str | None
    log: str
    placement: str | None = Field(
        None, description="Where a cluster backend placed it: the Ray node id (--backend ray)."
    )
    cpu_percent: float | None = Field(
        None, description="CPUUtilization at the last sample: % summed over cores."
    )
    memory_mb: float | None = Field(None, description="RSS of the instance's processes, MB.")
    memory_percent: float | None = Field(
        None, description="MemoryUtilization at the last sample: % of the machine's memory."
    )

    @classmethod
    def of(cls, instance: Instance) -> InstanceOut:
        usage = instance.usage[-1] if instance.usage else None
        return cls(
            id=instance.spec.id,
            state=instance.state.value,
            ready=instance.ready,
            pid=instance.pid,
            restarts=instance.restarts,
            last_error=instance.last_error,
            log=instance.log,
            placement=instance.placement,
            cpu_percent=usage.cpu_percent if usage else None,
            memory_mb=round(usage.memory_bytes / 1024 / 1024, 1) if usage else None,
            memory_percent=usage.memory_percent if usage else None,
        )


class VariantStateOut(BaseModel):
    name: str
    current_weight: float | None
    desired_weight: float
    current_instance_count: int | None
    desired_instance_count: int
    instances: list[InstanceOut]
    model: str | None = Field(None, description="The model the variant serves.")
    batching: BatchingOut | None = Field(None, description="How its instances batch.")


class EndpointOut(BaseModel):
    name: str
    config: str
    pending_config: str | None
    status: str
    failure_reason: str | None
    created_at: float
    last_modified_at: float
    url: str = Field(description="Where to send invocations (SageMaker runtime path).")
    variants: list[VariantStateOut]
    data_capture: DataCaptureStatusOut | None = None
    deployment: DeploymentOut | None = Field(
        default=None,
        description="The guarded deployment in progress (details: .../deployment).",
    )

    @classmethod
    def of(
        cls,
        endpoint: Endpoint,
        instances: list[Instance],
        capture: tuple[DataCapture, CaptureStatus] | None = None,
        models: Mapping[str, Model] | None = None,
    ) -> EndpointOut:
        models = models or {}
        fleet = endpoint.pending_config_name or endpoint.config_name
        return cls(
            name=endpoint.name,
            config=endpoint.config_name,
            pending_config=endpoint.pending_config_name,
            status=endpoint.status.value,
            failure_reason=endpoint.failure_reason,
            created_at=endpoint.created_at,
            last_modified_at=endpoint.last_modified_at,
            url=f"/endpoints/{endpoint.name}/invocations",
            variants=[
                VariantStateOut(
                    name=v.name,
                    current_weight=v.current_weight,
                    desired_weight=v.desired_weight,
                    current_instance_count=v.current_instance_count,
                    desired_instance_count=v.desired_instance_count,
                    instances=[
                        InstanceOut.of(i)
                        for i in sorted(instances, key=lambda i: (i.spec.fleet, i.spec.index))
                        if i.spec.variant == v.name
                        and i.spec.fleet in (endpoint.config_name, fleet)
                    ],
                    model=models[v.name].name if v.name in models else None,
                    batching=BatchingOut.of(models[v.name]) if v.name in models else None,
                )
                for v in endpoint.variants
            ],
            data_capture=DataCaptureStatusOut.of(capture),
        )


class ErrorBody(BaseModel):
    code: str = Field(examples=["ValidationError"])
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody
