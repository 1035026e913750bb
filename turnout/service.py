"""The service layer: every control-plane operation, whichever facade asked for it.

Synchronous (facades call it from worker threads). It validates, records the desired state
in the store and wakes the controller; it never starts or stops instances itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from turnout.capture import destination as capture
from turnout.capture.hub import CaptureHub, CaptureStatus
from turnout.deploy import shifting
from turnout.deploy.plans import DesiredVariant, apply_desired, initial_states
from turnout.deploy.validation import check_name, check_shadow_variants, check_variants
from turnout.domain.checks import PredictionTest
from turnout.domain.deployments import Deployment, Event, Phase, Request, RolloutPolicy
from turnout.domain.nodes import Lease, Node
from turnout.domain.plans import RoutingPlan
from turnout.domain.resources import (
    DataCapture,
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Fleet,
    Model,
    VariantState,
)
from turnout.domain.switch import SWITCH_FLAVOR, route_to
from turnout.errors import Conflict, InvalidRequest, NotFound
from turnout.instances.backend import Instance
from turnout.models.artifact import inspect_artifact
from turnout.models.batching import BatchingError, BatchPolicy
from turnout.models.errors import ArtifactError
from turnout.models.multi_model import check_multi_model
from turnout.store import Store
from turnout.store.cluster import CONTROLLER, ClusterStore

S = EndpointStatus


class Deployer(Protocol):
    """What the service layer needs from the reconcile loop."""

    def wake(self, endpoint: str) -> None: ...

    def instances(self, endpoint: str) -> list[Instance]: ...


@dataclass(frozen=True)
class Installation:
    """The nodes sharing the store and who runs the controller, as of `now`."""

    controller: Lease | None
    nodes: list[Node]
    now: float
    node_timeout: float  # a node silent for longer is gone

    def alive(self, node: Node) -> bool:
        return node.alive(self.now, self.node_timeout)

    @property
    def controller_holder(self) -> str | None:
        """The node holding an unexpired controller lease, if any."""
        lease = self.controller
        return lease.holder if lease is not None and lease.expires_at >= self.now else None


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
        capture: CaptureHub | None = None,
        node_timeout: float = 10.0,
        check_prediction_test: Callable[[PredictionTest], object] | None = None,
    ) -> None:
        self._store = store
        # turnout.checks.spec.validate, given by the server: the checks package talks HTTP
        # through turnout.client, which the service layer must not import (no cycle).
        self._check_prediction_test = check_prediction_test
        self._cluster = ClusterStore(store)
        self._node_timeout = node_timeout
        self._deployer = deployer
        self._clock = clock
        self._capture = capture

    # --- models -----------------------------------------------------------------------
    def create_model(self, model: Model, *, check_artifact: bool = True) -> ModelCreated:
        """Register a model. With check_artifact, a local artifact must exist and be servable
        now (the native API does this); the SageMaker facade defers it to endpoint creation,
        as SageMaker does."""
        check_name("model", model.name)
        try:
            BatchPolicy.of(model.environment)
        except BatchingError as exc:
            raise InvalidRequest(str(exc)) from None
        warnings: tuple[str, ...] = ()
        if model.multi_model:
            check_multi_model(model, check_artifact)
        elif route_to(model.environment) is not None:
            model = replace(model, flavor=SWITCH_FLAVOR)  # runs no instance (ADR 0040)
        elif check_artifact:
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
        check_shadow_variants(config.variants, config.shadow_variants)
        if config.data_capture is not None:
            capture.check(config.data_capture)
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
        self._deployer.wake(name)
        return endpoint

    def describe_endpoint(self, name: str) -> Endpoint:
        return self._store.get_endpoint(name)

    def list_endpoints(self) -> list[Endpoint]:
        return self._store.list_endpoints()

    def endpoint_models(self, name: str) -> Mapping[str, Model]:
        """The model each variant serves, by variant name: the new fleet's during an
        update, else the current fleet's (models deleted since included)."""
        current, pending = self._store.endpoint_fleets(name)
        return (pending or current).models

    def endpoint_instances(self, name: str) -> list[Instance]:
        self._store.get_endpoint(name)  # NotFound for an unknown endpoint
        return self._deployer.instances(name)

    def data_capture(self, name: str) -> tuple[DataCapture, CaptureStatus] | None:
        """The DataCaptureConfig of the endpoint's config and whether capture runs now."""
        endpoint = self._store.get_endpoint(name)
        settings = self._store.data_capture_of(endpoint.config_name)
        if settings is None:
            return None
        if not settings.enabled or settings.sampling_percentage == 0:
            return settings, CaptureStatus(started=False)
        if self._capture is None:
            return settings, CaptureStatus(False, "This turnout process does not capture data.")
        return settings, self._capture.status(name, endpoint.config_name)

    def endpoint_fleets(self, name: str) -> tuple[Fleet, Fleet | None]:
        """The current and (during an UpdateEndpoint) pending configs, with their models."""
        return self._store.endpoint_fleets(name)

    def update_endpoint_weights_and_capacities(
        self, name: str, changes: Sequence[DesiredVariant]
    ) -> Endpoint:
        """Change live weights and instance counts; the endpoint is Updating until applied."""
        endpoint = self._require_in_service(name)
        variants = apply_desired(endpoint.config_name, endpoint.variants, changes)
        self._save(endpoint, S.UPDATING, variants=variants)
        self._deployer.wake(name)
        return self._store.get_endpoint(name)

    def update_endpoint(
        self,
        name: str,
        config_name: str,
        policy: RolloutPolicy | None = None,
        prediction_test: PredictionTest | None = None,
    ) -> Endpoint:
        """Switch to another endpoint config without downtime: all at once, or, with a
        policy, as a guarded deployment that shifts traffic step by step (see rollout),
        after `prediction_test` passed on the new fleet if one is given (ADR 0022)."""
        if prediction_test is not None:
            if policy is None:
                raise InvalidRequest(
                    "A prediction test gates a guarded deployment: give a deployment config too."
                )
            if self._check_prediction_test is None:
                raise InvalidRequest("This turnout does not run prediction tests.")
            self._check_prediction_test(prediction_test)
        endpoint = self._require_in_service(name)
        if policy is not None:
            self._begin_deployment(endpoint, config_name, policy, prediction_test)
        elif not self._store.begin_config_update(
            name, config_name, last_modified_at=self._clock(), expect_status=endpoint.status
        ):
            raise Conflict(f"Endpoint {name} changed meanwhile; try again.")
        self._deployer.wake(name)
        return self._store.get_endpoint(name)

    def _begin_deployment(
        self,
        endpoint: Endpoint,
        config_name: str,
        policy: RolloutPolicy,
        prediction_test: PredictionTest | None = None,
    ) -> None:
        green = self._store.get_endpoint_config(config_name)
        if green.name == endpoint.config_name:
            raise InvalidRequest(
                f"Endpoint {endpoint.name} already serves endpoint config {green.name}; a "
                "blue/green deployment needs another endpoint config."
            )
        fleet_instances = sum(v.initial_instance_count for v in green.variants)
        shifting.validate(policy.blue_green, fleet_instances)
        for alarm in policy.alarms:
            try:
                self._store.get_alarm(alarm)
            except NotFound:
                raise InvalidRequest(
                    f"Alarm {alarm} of AutoRollbackConfiguration does not exist; create it first."
                ) from None
        now = self._clock()
        deployment = Deployment(
            id=0, endpoint=endpoint.name, blue_config=endpoint.config_name,
            green_config=green.name, policy=policy,
            steps=tuple(shifting.steps(policy.blue_green.routing, fleet_instances)),
            phase=Phase.PROVISIONING, step=0, step_started_at=None, started_at=now,
            prediction_test=prediction_test,
        )  # fmt: skip
        plan = ", ".join(f"{s.green_share:.0%}" for s in deployment.steps)
        started = Event(
            now, "started", f"Deploying {green.name} over {endpoint.config_name}: "
            f"{policy.blue_green.routing.type.value} ({plan}); provisioning the new fleet"
            + (", then its prediction test." if prediction_test is not None else "."),
            green_share=0.0,
        )  # fmt: skip
        if not self._store.begin_deployment(deployment, started, expect_status=endpoint.status):
            raise Conflict(f"Endpoint {endpoint.name} changed meanwhile; try again.")

    def deployments(self, name: str, limit: int = 20) -> list[tuple[Deployment, list[Event]]]:
        """The endpoint's deployments, newest first, with their history."""
        return self._store.deployment_history(name, limit)

    def latest_deployment(self, name: str) -> Deployment | None:
        return self._store.latest_deployment(name)

    def routing_plan(self, name: str) -> RoutingPlan | None:
        """The fleets and weights the controller last asked the nodes to route."""
        return self._cluster.plan(name)

    def alarm_states(self, names: Sequence[str]) -> dict[str, str]:
        """The alarms' last evaluated states (a deleted alarm: "missing")."""
        states = {}
        for name in names:
            try:
                states[name] = self._store.get_alarm(name).state.value
            except NotFound:
                states[name] = "missing"
        return states

    def request_deployment(self, name: str, request: Request) -> Deployment:
        """pause / resume / promote / rollback the endpoint's deployment in progress."""
        deployment = self._store.request_deployment(name, request)
        self._deployer.wake(name)
        return deployment

    def delete_endpoint(self, name: str) -> None:
        """Mark the endpoint Deleting; the controller drains it everywhere and removes it."""
        for _ in range(10):  # the controller may change the status between read and write
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
                self._deployer.wake(name)
                return
        raise Conflict(f"Endpoint {name} keeps changing; try deleting it again.")

    # --- tags (kind: "model", "endpoint config" or "endpoint") -------------------------
    def installation(self) -> Installation:
        """Every node that has reported, and the controller lease."""
        return Installation(
            self._cluster.lease(CONTROLLER),
            self._cluster.nodes(),
            self._clock(),
            self._node_timeout,
        )

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
