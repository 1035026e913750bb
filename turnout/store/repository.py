"""Store: the control plane's persisted state, one transaction per method.

Thread-safe: every call checks a connection out of the engine's pool for the length of
its own transaction, so worker threads may call any method at the same time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from turnout.domain.alarms import Alarm, AlarmState, AlarmStatus, AlarmTransition
from turnout.domain.async_inference import AsyncInferenceConfig
from turnout.domain.deployments import Deployment, Event, Request
from turnout.domain.resources import (
    DataCapture,
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Fleet,
    Model,
    VariantState,
)
from turnout.domain.rollups import Rollup, VariantKey
from turnout.store import (
    alarms,
    deployments,
    endpoint_configs,
    endpoints,
    models,
    rollups,
    tags,
)
from turnout.store.engine import Database
from turnout.store.migrate import upgrade_to_head


class Store:
    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to `url` (any SQLAlchemy URL) and migrate the schema to the latest revision."""
        db = Database(url)
        try:
            upgrade_to_head(db)
        except BaseException:
            db.dispose()
            raise
        return cls(db)

    def close(self) -> None:
        self._db.dispose()

    @property
    def database(self) -> Database:
        """For the stores of other packages (turnout.experiments.store) on the same engine."""
        return self._db

    # models
    def add_model(self, model: Model) -> None:
        """AlreadyExists("model", name) if a live model has that name."""
        with self._db.write() as conn:
            models.add(conn, model)

    def get_model(self, name: str) -> Model:
        with self._db.read() as conn:
            return models.get(conn, name)

    def list_models(self) -> list[Model]:
        with self._db.read() as conn:
            return models.list_live(conn)

    def delete_model(self, name: str) -> None:
        with self._db.write() as conn:
            models.delete(conn, name, deleted_at=time.time())

    # endpoint configs
    def add_endpoint_config(self, config: EndpointConfig) -> None:
        with self._db.write() as conn:
            endpoint_configs.add(conn, config)

    def get_endpoint_config(self, name: str) -> EndpointConfig:
        with self._db.read() as conn:
            return endpoint_configs.get(conn, name)

    def list_endpoint_configs(self) -> list[EndpointConfig]:
        with self._db.read() as conn:
            return endpoint_configs.list_live(conn)

    def data_capture_of(self, config_name: str) -> DataCapture | None:
        with self._db.read() as conn:
            return endpoint_configs.data_capture(conn, config_name)

    def async_inference_of(self, config_name: str) -> AsyncInferenceConfig | None:
        with self._db.read() as conn:
            return endpoint_configs.async_inference(conn, config_name)

    def delete_endpoint_config(self, name: str) -> None:
        with self._db.write() as conn:
            endpoint_configs.delete(conn, name, deleted_at=time.time())

    # endpoints
    def add_endpoint(self, endpoint: Endpoint) -> None:
        with self._db.write() as conn:
            endpoints.add(conn, endpoint)

    def get_endpoint(self, name: str) -> Endpoint:
        with self._db.read() as conn:
            return endpoints.get(conn, name)

    def list_endpoints(self) -> list[Endpoint]:
        with self._db.read() as conn:
            return endpoints.list_all(conn)

    def save_endpoint_state(
        self,
        name: str,
        *,
        status: EndpointStatus,
        variants: tuple[VariantState, ...],
        failure_reason: str | None,
        last_modified_at: float,
        expect_status: EndpointStatus | None = None,
        promote_pending: bool = False,
        clear_pending: bool = False,
    ) -> bool:
        """Replace status, variant states, failure reason and last-modified time.

        Compare-and-set: with `expect_status`, writes nothing and returns False if the
        endpoint's status is not that (an API call changed it meanwhile). In the same
        transaction `promote_pending` makes the pending config current (Conflict if there
        is none) and `clear_pending` drops it.
        """
        with self._db.write() as conn:
            return endpoints.save_state(
                conn,
                name,
                status=status,
                variants=variants,
                failure_reason=failure_reason,
                last_modified_at=last_modified_at,
                expect_status=expect_status,
                promote_pending=promote_pending,
                clear_pending=clear_pending,
            )

    def begin_config_update(
        self,
        name: str,
        config_name: str,
        *,
        last_modified_at: float,
        expect_status: EndpointStatus | None = None,
    ) -> bool:
        """UpdateEndpoint in one step: status Updating and `config_name` pending.

        Variant states and failure reason stay as they are. NotFound for an unknown
        endpoint or config; False (nothing written) if the status is not `expect_status`.
        """
        with self._db.write() as conn:
            return endpoints.begin_config_update(
                conn,
                name,
                config_name,
                last_modified_at=last_modified_at,
                expect_status=expect_status,
            )

    def set_pending_config(self, name: str, config_name: str | None) -> None:
        with self._db.write() as conn:
            endpoints.set_pending_config(conn, name, config_name)

    def promote_pending_config(self, name: str) -> None:
        with self._db.write() as conn:
            endpoints.promote_pending_config(conn, name)

    def endpoint_fleets(self, name: str) -> tuple[Fleet, Fleet | None]:
        with self._db.read() as conn:
            return endpoints.fleets(conn, name)

    def delete_endpoint(self, name: str) -> None:
        with self._db.write() as conn:
            deployments.delete_of_endpoint(conn, name)
            endpoints.delete(conn, name)

    # deployments (guarded blue/green updates)
    def begin_deployment(
        self, deployment: Deployment, event: Event, *, expect_status: EndpointStatus
    ) -> bool:
        """UpdateEndpoint with a policy: Updating, green pending, the deployment recorded."""
        with self._db.write() as conn:
            return deployments.begin(conn, deployment, event, expect_status)

    def active_deployment(self, endpoint: str) -> Deployment | None:
        with self._db.read() as conn:
            return deployments.active(conn, endpoint)

    def latest_deployment(self, endpoint: str) -> Deployment | None:
        with self._db.read() as conn:
            return deployments.latest(conn, endpoint)

    def deployment_history(
        self, endpoint: str, limit: int = 20
    ) -> list[tuple[Deployment, list[Event]]]:
        with self._db.read() as conn:
            endpoints.get(conn, endpoint)  # NotFound for an unknown endpoint
            return deployments.history(conn, endpoint, limit)

    def record_deployment(
        self,
        expect: Deployment,
        new: Deployment,
        event: Event,
        endpoint_status: EndpointStatus | None = None,
    ) -> bool:
        """Compare-and-set `expect` → `new`, with its event (and the endpoint's status)."""
        with self._db.write() as conn:
            return deployments.record(conn, expect, new, event, endpoint_status)

    def finish_deployment(
        self,
        expect: Deployment,
        new: Deployment,
        event: Event,
        *,
        status: EndpointStatus,
        variants: tuple[VariantState, ...],
        promote_pending: bool,
        at: float,
    ) -> bool:
        """The deployment's end and the endpoint's new state in one transaction: green
        becomes current (promote_pending) or is dropped; FailureReason from the deployment."""
        with self._db.write() as conn:
            if not deployments.record(conn, expect, new, event):
                return False
            endpoints.save_state(
                conn,
                new.endpoint,
                status=status,
                variants=variants,
                failure_reason=new.failure_reason,
                last_modified_at=at,
                promote_pending=promote_pending,
                clear_pending=not promote_pending,
            )
            return True

    def request_deployment(self, endpoint: str, request: Request) -> Deployment:
        """Conflict if the endpoint has no deployment in progress (or it is rolling back)."""
        with self._db.write() as conn:
            return deployments.request(conn, endpoint, request)

    # tags (kind: "model", "endpoint config" or "endpoint", the words of NotFound)
    def add_tags(
        self, kind: str, name: str, pairs: Sequence[tuple[str, str]], *, limit: int = 50
    ) -> None:
        """NotFound if the resource does not exist; InvalidRequest past `limit` tags."""
        with self._db.write() as conn:
            _require(conn, kind, name)
            tags.add(conn, kind, name, pairs, limit=limit)

    def list_tags(self, kind: str, name: str) -> list[tuple[str, str]]:
        with self._db.read() as conn:
            _require(conn, kind, name)
            return tags.list_(conn, kind, name)

    def delete_tags(self, kind: str, name: str, keys: Sequence[str]) -> None:
        with self._db.write() as conn:
            _require(conn, kind, name)
            tags.delete(conn, kind, name, keys)

    # metric rollups
    def add_rollups(self, batch: Sequence[Rollup], source: str) -> None:
        """One router's rollups of one flush (`source` names the router)."""
        with self._db.write() as conn:
            rollups.add(conn, batch, source)

    def list_rollups(
        self, endpoint: str, since: float, until: float | None = None, variant: str | None = None
    ) -> list[Rollup]:
        with self._db.read() as conn:
            return rollups.list_(conn, endpoint, since, until, variant)

    def rollup_keys(self, since: float) -> list[VariantKey]:
        with self._db.read() as conn:
            return rollups.keys(conn, since)

    def delete_rollups_before(self, cutoff: float) -> int:
        with self._db.write() as conn:
            return rollups.delete_before(conn, cutoff)

    # alarms
    def add_alarm(self, alarm: Alarm, created_at: float) -> None:
        """AlreadyExists if an alarm has that name; it starts INSUFFICIENT_DATA."""
        with self._db.write() as conn:
            alarms.add(conn, alarm, created_at)

    def put_alarm(self, alarm: Alarm, at: float) -> bool:
        """Create the alarm, or overwrite the definition of the one of that name (its state
        stays); True if it was created."""
        with self._db.write() as conn:
            if alarms.replace(conn, alarm):
                return False
            alarms.add(conn, alarm, at)
            return True

    def get_alarm(self, name: str) -> AlarmStatus:
        with self._db.read() as conn:
            return alarms.get(conn, name)

    def list_alarms(self, endpoint: str | None = None) -> list[AlarmStatus]:
        with self._db.read() as conn:
            return alarms.list_(conn, endpoint)

    def delete_alarm(self, name: str) -> None:
        with self._db.write() as conn:
            alarms.delete(conn, name)

    def set_alarm_state(self, name: str, state: AlarmState, reason: str, at: float) -> bool:
        """True if the state changed (and the change went to the history)."""
        with self._db.write() as conn:
            return alarms.set_state(conn, name, state, reason, at)

    def alarm_history(self, name: str | None, limit: int = 100) -> list[AlarmTransition]:
        """The latest state changes of alarm `name` (None: of every alarm), newest first."""
        with self._db.read() as conn:
            return alarms.history(conn, name, limit)


def _require(conn: Connection, kind: str, name: str) -> None:
    """NotFound unless a live resource of that kind has that name."""
    if kind == "model":
        models.get(conn, name)
    elif kind == "endpoint config":
        endpoint_configs.live_id(conn, name)
    elif kind == "endpoint":
        endpoints.get(conn, name)
    else:
        raise ValueError(f"no resource kind {kind!r}")
