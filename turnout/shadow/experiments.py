"""Inference experiments (SageMaker's shadow tests) over the endpoint lifecycle.

An experiment is stored as a document in SageMaker's shape (CreateInferenceExperiment's
fields plus Status, times and the endpoint configs it made). Creating one makes an
endpoint config with the source production variant and the shadow variants (weighted so
that each is mirrored its SamplingPercentage) and switches the endpoint to it at the
Schedule's StartTime; `step` (run by the controller's node every second) moves the status
on as the endpoint follows: Created → Starting → Running, and at EndTime or on Stop →
Stopping → Completed / Cancelled. Stopping applies ModelVariantActions: Promote swaps the
production variant's model for the shadow's, Remove drops a variant, Retain keeps it.
Every switch is an UpdateEndpoint: blue/green, no failed request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from turnout.domain.resources import (
    DataCapture,
    EndpointConfig,
    EndpointStatus,
    ProductionVariant,
)
from turnout.errors import Conflict, InvalidRequest, NotFound
from turnout.service import ControlPlane
from turnout.shadow.agreement import Tolerance
from turnout.shadow.report import StoredTally, report
from turnout.shadow.store import ShadowStore
from turnout.shadow.tally import Tally

log = logging.getLogger("turnout.shadow")

DEFAULT_DURATION = 7 * 24 * 3600.0  # without a Schedule.EndTime
MAX_DURATION = 30 * 24 * 3600.0
ACTIONS = ("Promote", "Remove", "Retain")
FINISHED = ("Completed", "Cancelled")


class InferenceExperiments:
    def __init__(
        self,
        store: ShadowStore,
        control: ControlPlane,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._control = control
        self._clock = clock
        # API threads and the controller's tick read-modify-write the same documents.
        self._lock = threading.RLock()

    # --- the API -------------------------------------------------------------------------
    def create(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Record a new experiment (CreateInferenceExperiment's fields); starts it if due."""
        with self._lock:
            return self._create(request)

    def _create(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["Name"]
        if request.get("Type", "ShadowMode") != "ShadowMode":
            raise InvalidRequest("Type must be ShadowMode: the only inference experiment type.")
        endpoint = self._control.describe_endpoint(request["EndpointName"])
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            raise Conflict(
                f"Endpoint {endpoint.name} is {endpoint.status.value}: an inference experiment "
                "starts on an endpoint that is InService."
            )
        if any(
            e["EndpointMetadata"]["EndpointName"] == endpoint.name and e["Status"] not in FINISHED
            for e in self._store.experiments()
        ):
            raise Conflict(
                f"Endpoint {endpoint.name} already has an inference experiment that has not "
                "ended; stop it first."
            )
        now = self._clock()
        start, end = _schedule(request.get("Schedule"), now)
        config = self._experiment_config(name, endpoint.config_name, request, now)
        document: dict[str, Any] = {
            "Name": name,
            "Type": "ShadowMode",
            "Schedule": {"StartTime": start, "EndTime": end},
            "Status": "Created",
            "Description": request.get("Description"),
            "RoleArn": request.get("RoleArn"),
            "KmsKey": request.get("KmsKey"),
            "EndpointMetadata": {"EndpointName": endpoint.name},
            "ModelVariants": [dict(v) for v in request["ModelVariants"]],
            "DataStorageConfig": request.get("DataStorageConfig"),
            "ShadowModeConfig": request["ShadowModeConfig"],
            "CreationTime": now,
            "LastModifiedTime": now,
            "Tolerance": _tolerance_document(request.get("Tolerance")),
            # turnout's own: the configs it switches between
            "OriginalEndpointConfigName": endpoint.config_name,
            "ExperimentEndpointConfigName": config.name,
        }
        self._control.create_endpoint_config(config)
        self._store.add_experiment(name, endpoint.name, "Created", now, document)
        self._step(document)
        return self._store.experiment(name)

    def describe(self, name: str) -> dict[str, Any]:
        return self._with_endpoint(self._store.experiment(name))

    def list_all(self) -> list[dict[str, Any]]:
        return self._store.experiments()

    def stop(
        self,
        name: str,
        actions: Mapping[str, str],
        desired_state: str | None = None,
        reason: str | None = None,
        desired_variants: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """StopInferenceExperiment: apply the variant actions through an UpdateEndpoint."""
        with self._lock:
            return self._stop(name, actions, desired_state, reason, desired_variants)

    def _stop(
        self,
        name: str,
        actions: Mapping[str, str],
        desired_state: str | None,
        reason: str | None,
        desired_variants: Sequence[Mapping[str, Any]] | None,
    ) -> dict[str, Any]:
        document = self._store.experiment(name)
        if document["Status"] not in ("Created", "Starting", "Running"):
            raise Conflict(
                f"Inference experiment {name} is {document['Status']}: only one that is "
                "Created, Starting or Running can be stopped."
            )
        state = desired_state or "Completed"
        if state not in FINISHED:
            raise InvalidRequest("DesiredState must be Completed or Cancelled.")
        names = {v["VariantName"] for v in document["ModelVariants"]}
        for variant, action in actions.items():
            if variant not in names:
                raise InvalidRequest(
                    f"ModelVariantActions names {variant}, which is not a model variant of "
                    f"inference experiment {name}: {', '.join(sorted(names))}."
                )
            if action not in ACTIONS:
                raise InvalidRequest(
                    f"Invalid action {action!r} for variant {variant}: use Promote, Remove "
                    "or Retain."
                )
        source = document["ShadowModeConfig"]["SourceModelVariantName"]
        promoted = [v for v, a in actions.items() if a == "Promote" and v != source]
        if len(promoted) > 1:
            raise InvalidRequest("Promote at most one shadow variant.")
        if actions.get(source) == "Remove" and not promoted:
            raise InvalidRequest(
                f"Removing the production variant {source} needs a shadow variant to Promote "
                "in its place."
            )
        now = self._clock()
        started = document["Status"] != "Created"  # Created: the endpoint never switched
        document["Status"] = "Stopping"
        document["StatusReason"] = reason
        document["DesiredState"] = state
        document["ModelVariantActions"] = dict(actions)
        if desired_variants:
            document["DesiredModelVariants"] = [dict(v) for v in desired_variants]
        document["LastModifiedTime"] = now
        final = (
            self._final_config(document, promoted[0] if promoted else None, now)
            if started
            else None
        )
        if final is not None:
            self._control.create_endpoint_config(final)
            document["FinalEndpointConfigName"] = final.name
        self._store.save_experiment(name, "Stopping", now, document)
        self._step(document)
        return self._store.experiment(name)

    def report(self, name: str) -> dict[str, Any]:
        """The comparison report of the experiment's (first) shadow variant."""
        document = self._store.experiment(name)
        endpoint = document["EndpointMetadata"]["EndpointName"]
        shadows = document["ShadowModeConfig"]["ShadowModelVariants"]
        start = document["Schedule"]["StartTime"]  # copies flow from the switch on
        end = document.get("CompletionTime")
        rows = self._store.tallies(endpoint, start, end)
        stored = [
            StoredTally(r.variant, r.shadow, r.period_start, Tally.of_document(r.document))
            for r in rows
        ]
        shadow = shadows[0]["ShadowModelVariantName"]
        answer = report(endpoint, shadow, stored, start, end)
        answer["experiment"] = name
        answer["status"] = document["Status"]
        answer["sampling_percentage"] = shadows[0]["SamplingPercentage"]
        answer["tolerance"] = document.get("Tolerance")
        return answer

    def endpoint_reports(self, endpoint: str, since: float) -> list[dict[str, Any]]:
        """Each shadow variant's comparison over the last `since` seconds, experiment or not."""
        self._control.describe_endpoint(endpoint)  # NotFound for an unknown endpoint
        start = self._clock() - since
        stored = [
            StoredTally(r.variant, r.shadow, r.period_start, Tally.of_document(r.document))
            for r in self._store.tallies(endpoint, start, None)
        ]
        return [
            report(endpoint, shadow, stored, start, None)
            for shadow in sorted({s.shadow for s in stored})
        ]

    def tolerances(self) -> dict[tuple[str, str], Tolerance]:
        """The comparison tolerance of each shadow variant in a running experiment."""
        found: dict[tuple[str, str], Tolerance] = {}
        for document in self._store.experiments():
            if document["Status"] in FINISHED or not document.get("Tolerance"):
                continue
            endpoint = document["EndpointMetadata"]["EndpointName"]
            tolerance = Tolerance(**document["Tolerance"])
            for shadow in document["ShadowModeConfig"]["ShadowModelVariants"]:
                found[(endpoint, shadow["ShadowModelVariantName"])] = tolerance
        return found

    # --- the controller's tick ----------------------------------------------------------
    def step_all(self) -> None:
        with self._lock:
            for document in self._store.experiments(excluding=FINISHED):
                self._step_one(document)

    def _step_one(self, document: dict[str, Any]) -> None:
        try:
            self._step(document)
        except Exception:
            log.exception("inference experiment %s: step failed; will retry", document["Name"])

    def _step(self, document: dict[str, Any]) -> None:
        """Move one experiment on, as far as its endpoint allows now."""
        name, status, now = document["Name"], document["Status"], self._clock()
        endpoint_name = document["EndpointMetadata"]["EndpointName"]
        try:
            endpoint = self._control.describe_endpoint(endpoint_name)
        except NotFound:
            self._save(document, "Cancelled", f"Endpoint {endpoint_name} was deleted.", now)
            return
        wanted = document["ExperimentEndpointConfigName"]
        if status == "Created" and now >= document["Schedule"]["StartTime"]:
            if endpoint.status is EndpointStatus.IN_SERVICE:
                self._control.update_endpoint(endpoint_name, wanted)
                self._save(document, "Starting", None, now)
        elif status == "Starting":
            if endpoint.status is EndpointStatus.IN_SERVICE:
                if endpoint.config_name == wanted:
                    document["StartedTime"] = now
                    self._save(document, "Running", None, now)
                else:
                    reason = endpoint.failure_reason or "the endpoint did not switch"
                    self._save(document, "Cancelled", f"Could not start: {reason}", now)
        elif status == "Running" and now >= document["Schedule"]["EndTime"]:
            # The schedule ended: the shadow goes, production stays as it was.
            source = document["ShadowModeConfig"]["SourceModelVariantName"]
            self._stop(name, {source: "Retain"}, "Completed", "The schedule ended.", None)
        elif status == "Stopping" and endpoint.status is EndpointStatus.IN_SERVICE:
            final = document.get("FinalEndpointConfigName")
            if final is None or endpoint.config_name == final:
                self._save(document, document.get("DesiredState", "Completed"), None, now)
            elif not document.get("Switched"):
                document["Switched"] = True
                document["CompletionTime"] = now  # the shadow stops receiving copies
                self._control.update_endpoint(endpoint_name, final)
                self._save(document, "Stopping", None, now)
            else:
                reason = endpoint.failure_reason or "the update did not apply"
                self._save(document, "Cancelled", f"Could not switch to {final}: {reason}", now)

    def _save(self, document: dict[str, Any], status: str, reason: str | None, now: float) -> None:
        document["Status"] = status
        if reason is not None:
            document["StatusReason"] = reason
        if status in FINISHED:
            document.setdefault("CompletionTime", now)
        document["LastModifiedTime"] = now
        self._store.save_experiment(document["Name"], status, now, document)

    # --- endpoint configs ---------------------------------------------------------------
    def _experiment_config(
        self, name: str, original: str, request: Mapping[str, Any], now: float
    ) -> EndpointConfig:
        shadow_mode = request["ShadowModeConfig"]
        source = shadow_mode["SourceModelVariantName"]
        by_name = {v["VariantName"]: v for v in request["ModelVariants"]}
        if source not in by_name:
            raise InvalidRequest(
                f"ShadowModeConfig.SourceModelVariantName {source} is not one of ModelVariants."
            )
        shadows = shadow_mode["ShadowModelVariants"]
        for shadow in shadows:
            if shadow["ShadowModelVariantName"] not in by_name:
                raise InvalidRequest(
                    f"Shadow variant {shadow['ShadowModelVariantName']} is not one of "
                    "ModelVariants."
                )
            percentage = shadow["SamplingPercentage"]
            if not 1 <= percentage <= 100:
                raise InvalidRequest(
                    f"SamplingPercentage of {shadow['ShadowModelVariantName']} must be 1 to "
                    f"100; got {percentage}."
                )
        extra = set(by_name) - {source} - {s["ShadowModelVariantName"] for s in shadows}
        if extra:
            raise InvalidRequest(
                f"ModelVariants {', '.join(sorted(extra))} are neither the source nor a shadow "
                "variant of ShadowModeConfig."
            )
        production = _variant(by_name[source], 1.0)
        shadow_variants = tuple(
            _variant(by_name[s["ShadowModelVariantName"]], s["SamplingPercentage"] / 100.0)
            for s in shadows
        )
        base = self._control.describe_endpoint_config(original)
        return EndpointConfig(
            _config_name(name, "shadow", now),
            (production,),
            data_capture=_storage(request.get("DataStorageConfig")) or base.data_capture,
            shadow_variants=shadow_variants,
        )

    def _final_config(
        self, document: dict[str, Any], promoted: str | None, now: float
    ) -> EndpointConfig | None:
        """The config to switch to on stop; None when the endpoint stays as it is."""
        actions: Mapping[str, str] = document["ModelVariantActions"]
        current = self._control.describe_endpoint_config(document["ExperimentEndpointConfigName"])
        source = current.variants[0]
        desired = {v["VariantName"]: v for v in document.get("DesiredModelVariants") or ()}
        if promoted is not None:
            shadow = current.variant(promoted)
            assert shadow is not None
            production = replace(source, model_name=shadow.model_name)
            if promoted in desired:
                production = _variant({**desired[promoted], "VariantName": source.name}, 1.0)
            return EndpointConfig(
                _config_name(document["Name"], "promoted", now),
                (replace(production, initial_weight=source.initial_weight),),
                data_capture=current.data_capture,
            )
        kept = tuple(s for s in current.shadow_variants if actions.get(s.name) == "Retain")
        if kept == current.shadow_variants:
            return None
        return replace(
            current, name=_config_name(document["Name"], "final", now), shadow_variants=kept
        )

    def _with_endpoint(self, document: dict[str, Any]) -> dict[str, Any]:
        metadata = dict(document["EndpointMetadata"])
        try:
            endpoint = self._control.describe_endpoint(metadata["EndpointName"])
        except NotFound:
            metadata["EndpointStatus"] = "OutOfService"
            return {**document, "EndpointMetadata": metadata}
        metadata["EndpointConfigName"] = endpoint.config_name
        metadata["EndpointStatus"] = endpoint.status.value
        if endpoint.failure_reason:
            metadata["FailureReason"] = endpoint.failure_reason
        return {**document, "EndpointMetadata": metadata}


def _schedule(schedule: Mapping[str, Any] | None, now: float) -> tuple[float, float]:
    schedule = schedule or {}
    start = _seconds(schedule.get("StartTime")) or now
    end = _seconds(schedule.get("EndTime")) or start + DEFAULT_DURATION
    if end <= start:
        raise InvalidRequest("Schedule.EndTime must be after Schedule.StartTime.")
    if end - start > MAX_DURATION:
        raise InvalidRequest("An inference experiment runs at most 30 days.")
    return start, end


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value)


def _variant(spec: Mapping[str, Any], weight: float) -> ProductionVariant:
    infrastructure = spec.get("InfrastructureConfig") or {}
    real_time = infrastructure.get("RealTimeInferenceConfig") or {}
    return ProductionVariant(
        name=spec["VariantName"],
        model_name=spec["ModelName"],
        initial_instance_count=int(real_time.get("InstanceCount", 1)),
        initial_weight=weight,
        instance_type=real_time.get("InstanceType"),
    )


def _storage(config: Mapping[str, Any] | None) -> DataCapture | None:
    if not config or not config.get("Destination"):
        return None
    content = config.get("ContentType") or {}
    return DataCapture(
        destination=config["Destination"],
        sampling_percentage=100,
        csv_content_types=tuple(content.get("CsvContentTypes") or ()),
        json_content_types=tuple(content.get("JsonContentTypes") or ()),
        kms_key_id=config.get("KmsKey"),
    )


def _tolerance_document(value: Mapping[str, Any] | None) -> dict[str, float] | None:
    if value is None:
        return None
    try:
        tolerance = Tolerance(float(value.get("rtol", 1e-5)), float(value.get("atol", 1e-8)))
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"Invalid Tolerance: {exc}") from None
    return {"rtol": tolerance.rtol, "atol": tolerance.atol}


def _config_name(experiment: str, suffix: str, now: float) -> str:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    return f"{experiment[: 63 - len(suffix) - len(stamp) - 2]}-{suffix}-{stamp}"
