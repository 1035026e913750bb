"""The service layer: every control-plane operation, whichever facade asked for it.

Synchronous (facades call it from worker threads). It validates, records the desired state
in the store and wakes the reconciler; it never starts or stops instances itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from turnout.deploy.plans import DesiredVariant, apply_desired, initial_states
from turnout.deploy.validation import check_name, check_variants
from turnout.errors import Conflict, InvalidRequest
from turnout.instances.backend import Instance
from turnout.models.artifact import ArtifactError, inspect_artifact
from turnout.resources import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Fleet,
    Model,
    VariantState,
)
from turnout.store import Store

S = EndpointStatus


class Deployer(Protocol):
    """What the service layer needs from the reconcile loop."""

    def wake(self) -> None: ...

    def instances(self, endpoint: str) -> list[Instance]: ...


@dataclass(frozen=True)
class ModelCreated:
    model: Model
    warnings: tuple[str, ...] = ()


class ControlPlane:
    def __init__(
        self,
        store: Store,
        deployer: Deployer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._deployer = deployer
        self._clock = clock

    # --- models -----------------------------------------------------------------------
    def create_model(self, model: Model, *, check_artifact: bool = True) -> ModelCreated:
        """Register a model. With check_artifact, a local artifact must exist and be servable
        now (the native API does this); the SageMaker facade defers it to endpoint creation,
        as SageMaker does."""
        check_name("model", model.name)
        warnings: tuple[str, ...] = ()
        if check_artifact:
            try:
                report = inspect_artifact(model)
            except ArtifactError as exc:
                raise InvalidRequest(str(exc)) from None
            model = replace(model, flavor=report.flavor)
            warnings = tuple(report.warnings)
        model = replace(model, created_at=self._clock())
        self._store.add_model(model)
        return ModelCreated(model, warnings)

    def describe_model(self, name: str) -> Model:
        return self._store.get_model(name)

    def list_models(self) -> list[Model]:
        return self._store.list_models()

    def delete_model(self, name: str) -> None:
        self._store.delete_model(name)

    # --- endpoint configs -------------------------------------------------------------
    def create_endpoint_config(self, config: EndpointConfig) -> EndpointConfig:
        check_name("endpoint config", config.name)
        check_variants(config.variants)
        config = replace(config, created_at=self._clock())
        self._store.add_endpoint_config(config)
        return config

    def describe_endpoint_config(self, name: str) -> EndpointConfig:
        return self._store.get_endpoint_config(name)

    def list_endpoint_configs(self) -> list[EndpointConfig]:
        return self._store.list_endpoint_configs()

    def delete_endpoint_config(self, name: str) -> None:
        self._store.delete_endpoint_config(name)

    # --- endpoints --------------------------------------------------------------------
    def create_endpoint(self, name: str, config_name: str) -> Endpoint:
        check_name("endpoint", name)
        config = self._store.get_endpoint_config(config_name)
        now = self._clock()
        endpoint = Endpoint(
            name=name,
            config_name=config.name,
            status=S.CREATING,
            variants=initial_states(config),
            created_at=now,
            last_modified_at=now,
        )
        self._store.add_endpoint(endpoint)
        self._deployer.wake()
        return endpoint

    def describe_endpoint(self, name: str) -> Endpoint:
        return self._store.get_endpoint(name)

    def list_endpoints(self) -> list[Endpoint]:
        return self._store.list_endpoints()

    def endpoint_instances(self, name: str) -> list[Instance]:
        self._store.get_endpoint(name)  # NotFound for an unknown endpoint
        return self._deployer.instances(name)

    def endpoint_fleets(self, name: str) -> tuple[Fleet, Fleet | None]:
        """The current and (during an UpdateEndpoint) pending configs, with their models."""
        return self._store.endpoint_fleets(name)

    def update_endpoint_weights_and_capacities(
        self, name: str, changes: Sequence[DesiredVariant]
    ) -> Endpoint:
        """Change live weights and instance counts; the endpoint is Updating until applied."""
        endpoint = self._require_in_service(name)
        variants = apply_desired(name, endpoint.variants, changes)
        self._save(endpoint, S.UPDATING, variants=variants)
        self._deployer.wake()
        return self._store.get_endpoint(name)

    def update_endpoint(self, name: str, config_name: str) -> Endpoint:
        """Switch to another endpoint config without downtime (all at once, blue/green)."""
        endpoint = self._require_in_service(name)
        if not self._store.begin_config_update(
            name, config_name, last_modified_at=self._clock(), expect_status=endpoint.status
        ):
            raise Conflict(f"Endpoint {name} changed meanwhile; try again.")
        self._deployer.wake()
        return self._store.get_endpoint(name)

    def delete_endpoint(self, name: str) -> None:
        """Mark the endpoint Deleting; the reconciler drains it and removes it."""
        for _ in range(10):  # the reconciler may change the status between read and write
            endpoint = self._store.get_endpoint(name)
            if endpoint.status is S.DELETING:
                return
            if self._store.save_endpoint_state(
                name,
                status=S.DELETING,
                variants=endpoint.variants,
                failure_reason=endpoint.failure_reason,
                last_modified_at=self._clock(),
                expect_status=endpoint.status,
            ):
                self._deployer.wake()
                return
        raise Conflict(f"Endpoint {name} keeps changing; try deleting it again.")

    # --- tags (kind: "model", "endpoint config" or "endpoint") -------------------------
    def add_tags(
        self, kind: str, name: str, pairs: Sequence[tuple[str, str]], *, limit: int = 50
    ) -> None:
        self._store.add_tags(kind, name, pairs, limit=limit)

    def list_tags(self, kind: str, name: str) -> list[tuple[str, str]]:
        return self._store.list_tags(kind, name)

    def delete_tags(self, kind: str, name: str, keys: Sequence[str]) -> None:
        self._store.delete_tags(kind, name, keys)

    def _require_in_service(self, name: str) -> Endpoint:
        endpoint = self._store.get_endpoint(name)
        if endpoint.status is S.FAILED:  # it will not become InService by waiting
            raise Conflict(
                f"Cannot update endpoint {name}: it is Failed ({endpoint.failure_reason}); "
                "delete it and create it again."
            )
        if endpoint.status is not S.IN_SERVICE:
            raise Conflict(
                f"Cannot update in-progress endpoint {name}: it is {endpoint.status.value}; "
                "wait until it is InService."
            )
        return endpoint

    def _save(
        self, endpoint: Endpoint, status: EndpointStatus, *, variants: tuple[VariantState, ...]
    ) -> None:
        if not self._store.save_endpoint_state(
            endpoint.name,
            status=status,
            variants=variants,
            failure_reason=None,
            last_modified_at=self._clock(),
            expect_status=endpoint.status,
        ):
            raise Conflict(f"Endpoint {endpoint.name} changed meanwhile; try again.")
