"""The control plane's resources: models, endpoint configs, endpoints (DESIGN.md vocabulary).

Plain frozen values, shared by the store, the service layer and both facades. Field names
follow the native API; the SageMaker facade renames them on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from turnout.domain.async_inference import AsyncInferenceConfig

SINGLE_MODEL = "SingleModel"  # SageMaker's ContainerMode values
MULTI_MODEL = "MultiModel"  # the artifact is a prefix of many model.tar.gz (ADR 0037)
MAX_PIPELINE_CONTAINERS = 15  # SageMaker's bound on an inference pipeline (ADR 0039)


class EndpointStatus(StrEnum):
    """SageMaker's endpoint status values."""

    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    OUT_OF_SERVICE = "OutOfService"
    DELETING = "Deleting"
    FAILED = "Failed"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"


@dataclass(frozen=True)
class Container:
    """One step of an inference pipeline (ADR 0039): its own artifact, flavor, environment."""

    artifact: str
    flavor: str = "auto"
    environment: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None
    hostname: str | None = None  # SageMaker's ContainerHostname, shown in errors and metrics

    def label(self, index: int) -> str:
        """How errors and metrics name the container at `index` (from 0)."""
        return self.hostname or f"container{index + 1}"


@dataclass(frozen=True)
class Model:
    """A registered, immutable artifact and how to serve it."""

    name: str
    artifact: str  # a directory, a .tar.gz, or a file:// URL to either
    # How an instance serves it: a registered flavor's name (turnout.models.registry), or
    # "auto" to detect it from the artifact's files.
    flavor: str = "auto"
    # For the command flavor: argv of the program (run with the unpacked artifact as cwd).
    command: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None  # recorded and shown back (SageMaker PrimaryContainer.Image)
    execution_role_arn: str | None = None
    created_at: float = 0.0
    # SINGLE_MODEL, or MULTI_MODEL: `artifact` is then a prefix (s3://bucket/prefix/ or a
    # directory) and each invocation's TargetModel names a model.tar.gz under it.
    mode: str = SINGLE_MODEL
    # An inference pipeline (ADR 0039): 2-15 containers run in a row, each one's answer the
    # next one's request; empty for a one-container model. `artifact` etc. are then the
    # first container's.
    containers: tuple[Container, ...] = ()

    @property
    def multi_model(self) -> bool:
        return self.mode == MULTI_MODEL

    @property
    def pipeline(self) -> bool:
        return len(self.containers) > 1

    def step(self, index: int) -> Model:
        """Container `index` of a pipeline as a one-container model (to fetch and load it)."""
        c = self.containers[index]
        return Model(
            name=f"{self.name}.{c.label(index)}",
            artifact=c.artifact,
            flavor=c.flavor,
            environment=c.environment,
            image=c.image,
            created_at=self.created_at,
        )


@dataclass(frozen=True)
class ServerlessConfig:
    """SageMaker's ProductionVariantServerlessConfig (ADR 0038).

    A serverless variant runs no instance while idle; its first request starts one (a cold
    start), which stops again after an idle time. At most `max_concurrency` of its requests
    run at once on a node; `provisioned_concurrency` keeps one instance warm. The memory
    size is recorded and shown back only.
    """

    memory_size_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None


@dataclass(frozen=True)
class ProductionVariant:
    """One model behind an endpoint, as an endpoint config declares it."""

    name: str
    model_name: str
    initial_instance_count: int = 1
    initial_weight: float = 1.0
    instance_type: str | None = None
    serverless: ServerlessConfig | None = None


@dataclass(frozen=True)
class DataCapture:
    """SageMaker's DataCaptureConfig: which invocations to record, and where (turnout.capture).

    `destination` is as given: s3://bucket/prefix, file:///dir or an absolute directory.
    Content types in `csv_content_types` / `json_content_types` are written as text;
    any other payload as base64.
    """

    destination: str
    sampling_percentage: int
    capture_input: bool = True
    capture_output: bool = True
    enabled: bool = True
    csv_content_types: tuple[str, ...] = ()
    json_content_types: tuple[str, ...] = ()
    kms_key_id: str | None = None


@dataclass(frozen=True)
class EndpointConfig:
    """An immutable list of production variants (and what of their traffic to capture).

    Shadow variants (SageMaker's ShadowProductionVariants) receive a copy of a sample of
    the production traffic; their answers never reach the caller (ADR 0021).
    """

    name: str
    variants: tuple[ProductionVariant, ...]
    created_at: float = 0.0
    data_capture: DataCapture | None = None
    shadow_variants: tuple[ProductionVariant, ...] = ()
    # SageMaker's AsyncInferenceConfig: InvokeEndpointAsync is accepted only with it (ADR 0031).
    async_inference: AsyncInferenceConfig | None = None

    def variant(self, name: str) -> ProductionVariant | None:
        """The production or shadow variant of that name."""
        return next((v for v in (*self.variants, *self.shadow_variants) if v.name == name), None)

    def sampling(self, shadow: ProductionVariant) -> float:
        """The share of production requests mirrored to `shadow`: its weight over the
        production variants' total, at most 1 (SageMaker's rule: weight 0.5 beside a
        production variant of weight 1 mirrors half the requests)."""
        total = sum(v.initial_weight for v in self.variants)
        return min(1.0, shadow.initial_weight / total) if total > 0 else 0.0


@dataclass(frozen=True)
class VariantState:
    """The live weights and instance counts of one variant of an endpoint.

    `current_*` is what serves now (None until the variant first serves); `desired_*` is
    what the last update asked for. They differ while the endpoint is Updating.
    """

    name: str
    desired_weight: float
    desired_instance_count: int
    current_weight: float | None = None
    current_instance_count: int | None = None


@dataclass(frozen=True)
class Endpoint:
    """A named URL pointing at one endpoint config, with its status and live variant state."""

    name: str
    config_name: str
    status: EndpointStatus
    variants: tuple[VariantState, ...]
    failure_reason: str | None = None
    created_at: float = 0.0
    last_modified_at: float = 0.0
    # While an UpdateEndpoint runs: the config being deployed (the green fleet).
    pending_config_name: str | None = None

    def variant(self, name: str) -> VariantState | None:
        return next((v for v in self.variants if v.name == name), None)


@dataclass(frozen=True)
class Fleet:
    """An endpoint config resolved to the models its variants serve.

    The models are those registered when the config was created, even if deleted since:
    a running endpoint keeps serving (SageMaker semantics).
    """

    config: EndpointConfig
    models: Mapping[str, Model]  # by variant name
