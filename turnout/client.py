"""The Python SDK: turnout's native REST API (`/api/v1`) and its runtime API, over httpx.

    from turnout.client import Client

    with Client("http://127.0.0.1:8080") as turnout:
        turnout.create_model("digits-a", "/models/digits-a")
        turnout.create_endpoint_config("digits-ab", [Variant("A", "digits-a")])
        turnout.create_endpoint("digits", "digits-ab")
        turnout.wait_for_endpoint("digits")
        answer = turnout.invoke("digits", [[0.0] * 64])
        print(answer.variant, answer.json())

Resources come back as the API's JSON documents, typed with TypedDicts (same field names
as `/api/v1/openapi.json`). Every failure raises a `TurnoutClientError` whose str is one
line: `TurnoutAPIError` (turnout answered with an error), `ModelError` (the model did),
`TurnoutUnreachable` (no turnout at that URL), `EndpointFailed` and `WaitTimeout` (waits).

A server started with credentials (`turnout serve --credentials FILE`) takes only requests
signed with AWS Signature Version 4. The client signs every request when it has credentials:
`Client(url, credentials=Credentials("AKIA...", "secret"))` or
`Credentials.from_file(path)`; by default it takes them from the environment, as the
server does (`Credentials.from_environment`). A refused signature raises `TurnoutAuthError`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn, NotRequired, TypedDict, cast
from urllib.parse import quote, urlencode

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
# Above the server's default model timeout (60 s), so a slow model's own error reaches us.
DEFAULT_TIMEOUT = 75.0
_FAILED = ("Failed", "UpdateRollbackFailed")
# The same variables `turnout serve` reads its accepted key pair and credentials file from.
ACCESS_KEY_VAR = "TURNOUT_ACCESS_KEY_ID"
SECRET_KEY_VAR = "TURNOUT_SECRET_ACCESS_KEY"
CREDENTIALS_VAR = "TURNOUT_CREDENTIALS"
REGION_VAR = "TURNOUT_REGION"
DEFAULT_REGION = "us-east-1"
# The credential scope's service, as boto3 signs for sagemaker and sagemaker-runtime.
SIGNING_SERVICE = "sagemaker"
# The server's refusals of a request's signature (HTTP 403, code in x-amzn-ErrorType).
MISSING_SIGNATURE = "MissingAuthenticationTokenException"
_AUTH_CODES = frozenset(
    {
        MISSING_SIGNATURE,
        "IncompleteSignatureException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
    }
)


# -- errors -----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


class TurnoutClientError(Exception):
    """Base of every client error; str is a one-line message."""


class TurnoutAPIError(TurnoutClientError):
    """turnout answered with an error: HTTP status, error code (e.g. NotFound) and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(_one_line(message))
        self.status = status
        self.code = code
        self.message = _one_line(message)


class ModelError(TurnoutAPIError):
    """The model answered an invocation with an error (or timed out, or died: status 0)."""

    def __init__(self, message: str, original_status: int, original_message: str) -> None:
        super().__init__(424, "ModelError", message)
        self.original_status = original_status
        self.original_message = original_message


class TurnoutAuthError(TurnoutAPIError):
    """turnout refused the request's signature (HTTP 403): none, an unknown key, a wrong
    secret or a clock too far off. `code` is AWS's (e.g. InvalidSignatureException)."""


class TurnoutCredentialsError(TurnoutClientError):
    """The credentials to sign with cannot be read (file, environment)."""


class TurnoutUnreachable(TurnoutClientError):
    """Nothing answers at the URL, or the connection broke."""

    def __init__(self, url: str, detail: str | None = None) -> None:
        super().__init__(
            f"{detail} (turnout at {url})"
            if detail
            else f'cannot reach turnout at {url}: start it with "turnout serve"'
        )
        self.url = url


class EndpointFailed(TurnoutClientError):
    """An endpoint being waited for became Failed; `reason` is its FailureReason."""

    def __init__(self, name: str, status: str, reason: str | None) -> None:
        super().__init__(_one_line(f"endpoint {name} is {status}: {reason or 'no reason given'}"))
        self.name = name
        self.status = status
        self.reason = reason


class WaitTimeout(TurnoutClientError):
    """A wait ran out of time; the operation may still finish later."""


# -- values -----------------------------------------------------------------------------


class Health(TypedDict):
    status: str
    version: str


class BatchingInfo(TypedDict):
    """Adaptive batching of a model's instances (TURNOUT_MAX_BATCH_SIZE / _DELAY_MS)."""

    max_batch_size: int  # 1: off
    max_batch_delay_ms: float
    applies: str  # yes, no, or the condition under which the flavor batches


class ModelInfo(TypedDict):
    name: str
    artifact: str
    flavor: str
    command: list[str] | None
    environment: dict[str, str]
    image: str | None
    execution_role_arn: str | None
    created_at: float
    mode: str  # single_model, or multi_model (ADR 0037)
    batching: BatchingInfo
    warnings: list[str]  # problems found at registration; empty when listed later


class VariantInfo(TypedDict):
    """A production variant as an endpoint config declares it."""

    name: str
    model: str
    instance_count: int
    weight: float
    instance_type: str | None


class EndpointConfigInfo(TypedDict):
    name: str
    variants: list[VariantInfo]
    created_at: float
    data_capture: dict[str, Any] | None  # as given to create_endpoint_config
    shadow_variants: list[VariantInfo]  # get copies of traffic, never answer callers


class DataCaptureStatusInfo(TypedDict):
    """Whether the endpoint captures now (Started / Stopped) and, if stopped, why."""

    status: str
    reason: str | None
    sampling_percentage: int
    destination: str
    captured: int
    dropped: int
    write_errors: int


class NodeInstanceInfo(TypedDict):
    id: str
    endpoint: str
    config: str
    variant: str
    state: str
    address: str
    pid: int | None
    restarts: int
    last_error: str | None


class NodeInfo(TypedDict):
    name: str
    url: str
    backend: str
    alive: bool
    controller: bool
    started_at: float
    heartbeat_at: float
    applied: dict[str, int]
    instances: list[NodeInstanceInfo]


class ControllerInfo(TypedDict):
    holder: str
    acquired_at: float
    expires_at: float


class InstallationInfo(TypedDict):
    controller: ControllerInfo | None
    nodes: list[NodeInfo]


class InstanceInfo(TypedDict):
    id: str
    state: str
    ready: bool
    pid: int | None
    restarts: int
    last_error: str | None
    log: str
    placement: str | None  # the Ray node id with --backend ray; None for local processes
    cpu_percent: float | None  # CPUUtilization at the last sample (% summed over cores)
    memory_mb: float | None
    memory_percent: float | None  # MemoryUtilization: % of the machine's memory


class VariantStateInfo(TypedDict):
    """A variant of a live endpoint; `current_*` is None until it first serves."""

    name: str
    current_weight: float | None
    desired_weight: float
    current_instance_count: int | None
    desired_instance_count: int
    instances: list[InstanceInfo]
    model: NotRequired[str | None]
    batching: NotRequired[BatchingInfo | None]


class EndpointInfo(TypedDict):
    name: str
    config: str
    pending_config: str | None
    status: str
    failure_reason: str | None
    created_at: float
    last_modified_at: float
    url: str
    variants: list[VariantStateInfo]
    deployment: DeploymentInfo | None  # a guarded deployment in progress (without events)
    data_capture: DataCaptureStatusInfo | None


class DeploymentStepInfo(TypedDict):
    green_share: float
    bake_s: int


class DeploymentEventInfo(TypedDict):
    at: float
    kind: str
    message: str
    step: int | None
    green_share: float | None  # green's share from `at` on, where it changed


class DeploymentInfo(TypedDict):
    """A guarded blue/green deployment; `phase` is Provisioning, Validating (its prediction
    test runs on green), Baking, TerminationWait, RollingBack, Succeeded, RolledBack or
    RollbackFailed."""

    id: int
    endpoint: str
    blue_config: str
    green_config: str
    deployment_config: dict[str, Any]
    steps: list[DeploymentStepInfo]
    phase: str
    step: int
    step_started_at: float | None
    green_share: float
    started_at: float
    paused: bool
    requested: str | None
    failure_reason: str | None
    finished_at: float | None
    alarms: dict[str, str]  # in progress: each rollback alarm's state
    prediction_test: dict[str, Any] | None  # {"rows": n, "min", "max", "task", ...}
    events: list[DeploymentEventInfo]


class DeploymentsInfo(TypedDict):
    current: DeploymentInfo | None
    past: list[DeploymentInfo]


class AlarmChangeInfo(TypedDict):
    at: float
    old_state: str
    new_state: str
    reason: str


class AlarmInfo(TypedDict):
    """An alarm: its definition and state; `history` (newest first) only when described."""

    name: str
    endpoint: str
    metric: str
    statistic: str
    threshold: float
    comparison: str
    variant: str | None
    config: str | None
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int | None
    treat_missing_data: str
    state: str  # OK, ALARM or INSUFFICIENT_DATA
    reason: str
    state_updated_at: float
    created_at: float
    history: list[AlarmChangeInfo] | None


class DatapointInfo(TypedDict):
    timestamp: float  # start of the period
    value: float | None  # None: no invocations in the period


class MetricSeriesInfo(TypedDict):
    endpoint: str
    metric: str
    statistic: str
    period: int
    variant: str | None
    config: str | None
    datapoints: list[DatapointInfo]


class VariantMetricsInfo(TypedDict):
    variant: str
    config: str
    metrics: dict[str, dict[str, float]]  # metric -> statistic -> value (latencies in µs)
    shadow: bool  # a shadow variant: its invocations are mirrored copies


class MetricsSummaryInfo(TypedDict):
    endpoint: str
    seconds: float
    variants: list[VariantMetricsInfo]


@dataclass(frozen=True)
class Variant:
    """A production variant to put in an endpoint config."""

    name: str
    model: str
    instance_count: int = 1
    weight: float = 1.0
    instance_type: str | None = None


@dataclass(frozen=True)
class Invocation:
    """One answer from an endpoint."""

    body: bytes
    content_type: str
    variant: str  # the production variant that answered
    custom_attributes: str | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Credentials:
    """An access key pair to sign requests with (AWS Signature Version 4)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    source: str = "given to Client"  # where it came from, named in errors

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Credentials:
        """The first key pair of a credentials file (`~/.aws/credentials` format), read as
        `turnout serve --credentials` reads it; TurnoutCredentialsError if it cannot be."""
        # Imported here: only signing clients need the server's loader.
        from turnout.api.auth import CredentialsError, load_credentials

        location = Path(path).expanduser()
        try:
            pairs = load_credentials(location, environ={})
        except CredentialsError as exc:
            raise TurnoutCredentialsError(str(exc)) from None
        key, secret = next(iter(pairs.items()))  # the loader refuses a file without one
        return cls(key, secret, f"from {location}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Credentials | None:
        """The file TURNOUT_CREDENTIALS names, else TURNOUT_ACCESS_KEY_ID and
        TURNOUT_SECRET_ACCESS_KEY; None if none of them is set."""
        path = environ.get(CREDENTIALS_VAR)
        if path:
            return cls.from_file(path)
        key, secret = environ.get(ACCESS_KEY_VAR), environ.get(SECRET_KEY_VAR)
        if bool(key) != bool(secret):
            raise TurnoutCredentialsError(
                f"set both {ACCESS_KEY_VAR} and {SECRET_KEY_VAR}, or neither"
            )
        if key and secret:
            return cls(key, secret, f"from {ACCESS_KEY_VAR}")
        return None


class _SigV4(httpx.Auth):
    """Signs each request with botocore's own SigV4 signer, as boto3 signs SageMaker's."""

    requires_request_body = True

    def __init__(self, credentials: Credentials, region: str) -> None:
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials as BotocoreCredentials

        keys = BotocoreCredentials(credentials.access_key_id, credentials.secret_access_key)
        self._signer = SigV4Auth(keys, SIGNING_SERVICE, region)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from botocore.awsrequest import AWSRequest

        # Sign what no proxy rewrites: the host, the content type and the x-amz* headers
        # (httpx's connection and encoding headers stay out of the signature).
        signed = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("host", "content-type") or name.lower().startswith("x-amz")
        }
        aws = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=signed
        )
        self._signer.add_auth(aws)
        request.headers["Authorization"] = aws.headers["Authorization"]
        request.headers["X-Amz-Date"] = aws.headers["X-Amz-Date"]
        yield request


# -- the client -------------------------------------------------------------------------


class Client:
    """A synchronous client; safe to share between threads. Close it (or use `with`).

    With `credentials` (default: `Credentials.from_environment()`), every request is signed
    with SigV4 for `region` (default: TURNOUT_REGION, else us-east-1); without, none is.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        timeout: float = DEFAULT_TIMEOUT,
        credentials: Credentials | None = None,
        region: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials or Credentials.from_environment()
        self.region = region or os.environ.get(REGION_VAR) or DEFAULT_REGION
        auth = _SigV4(self.credentials, self.region) if self.credentials else None
        self._http = httpx.Client(base_url=self.url, timeout=timeout, auth=auth)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # health
    def health(self) -> Health:
        return cast(Health, self._call("GET", "/api/v1/health"))

    # models
    def create_model(
        self,
        name: str,
        artifact: str,
        flavor: str = "auto",
        command: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        mode: str = "single_model",
    ) -> ModelInfo:
        """`mode="multi_model"`: `artifact` is a directory or s3:// prefix of many models,
        each invocation names one (TargetModel; docs/multi-model.md)."""
        body = {
            "name": name,
            "artifact": artifact,
            "flavor": flavor,
            "command": list(command) if command is not None else None,
            "environment": dict(environment or {}),
            "mode": mode,
        }
        return cast(ModelInfo, self._call("POST", "/api/v1/models", body))

    def list_models(self) -> list[ModelInfo]:
        return cast(list[ModelInfo], self._call("GET", "/api/v1/models"))

    def describe_model(self, name: str) -> ModelInfo:
        return cast(ModelInfo, self._call("GET", f"/api/v1/models/{_part(name)}"))

    def delete_model(self, name: str) -> None:
        self._call("DELETE", f"/api/v1/models/{_part(name)}")

    # endpoint configs
    def create_endpoint_config(
        self,
        name: str,
        variants: Sequence[Variant | Mapping[str, Any]],
        data_capture: Mapping[str, Any] | None = None,
        shadow_variants: Sequence[Variant | Mapping[str, Any]] = (),
    ) -> EndpointConfigInfo:
        """`data_capture`: {"destination", "sampling_percentage", ...} (DataCaptureIn).
        `shadow_variants` get a copy of weight/production weight of the traffic."""
        body: dict[str, Any] = {
            "name": name,
            "variants": [asdict(v) if isinstance(v, Variant) else dict(v) for v in variants],
        }
        if shadow_variants:
            body["shadow_variants"] = [
                asdict(v) if isinstance(v, Variant) else dict(v) for v in shadow_variants
            ]
        if data_capture is not None:
            body["data_capture"] = dict(data_capture)
        return cast(EndpointConfigInfo, self._call("POST", "/api/v1/endpoint-configs", body))

    def list_endpoint_configs(self) -> list[EndpointConfigInfo]:
        return cast(list[EndpointConfigInfo], self._call("GET", "/api/v1/endpoint-configs"))

    def describe_endpoint_config(self, name: str) -> EndpointConfigInfo:
        path = f"/api/v1/endpoint-configs/{_part(name)}"
        return cast(EndpointConfigInfo, self._call("GET", path))

    def delete_endpoint_config(self, name: str) -> None:
        self._call("DELETE", f"/api/v1/endpoint-configs/{_part(name)}")

    # endpoints
    def create_endpoint(self, name: str, config: str) -> EndpointInfo:
        body = {"name": name, "config": config}
        return cast(EndpointInfo, self._call("POST", "/api/v1/endpoints", body))

    def list_endpoints(self) -> list[EndpointInfo]:
        return cast(list[EndpointInfo], self._call("GET", "/api/v1/endpoints"))

    def nodes(self) -> InstallationInfo:
        """Every `turnout serve` process sharing the store, and which runs the controller."""
        return cast(InstallationInfo, self._call("GET", "/api/v1/nodes"))

    def overview(self) -> dict[str, Any]:
        """What the dashboard's overview shows: every endpoint with, per variant of each
        fleet, requests (5 min), requests/s, error rate and ModelLatency p50/p99 (1 min)."""
        return cast(dict[str, Any], self._call("GET", "/dashboard/api/overview"))

    def describe_endpoint(self, name: str) -> EndpointInfo:
        return cast(EndpointInfo, self._call("GET", f"/api/v1/endpoints/{_part(name)}"))

    def update_endpoint(
        self,
        name: str,
        config: str,
        deployment_config: Mapping[str, Any] | None = None,
        prediction_test: Mapping[str, Any] | None = None,
    ) -> EndpointInfo:
        """Switch the endpoint to another endpoint config (blue/green): all at once, or
        step by step with `deployment_config` (SageMaker's DeploymentConfig document).
        `prediction_test` (`{"rows": [{"inputs": [...], "expected": ...}], "min": {...},
        "max": {...}}`) must pass on the new fleet before any traffic shifts."""
        path = f"/api/v1/endpoints/{_part(name)}"
        body: dict[str, Any] = {"config": config}
        if deployment_config is not None:
            body["deployment_config"] = dict(deployment_config)
        if prediction_test is not None:
            body["prediction_test"] = dict(prediction_test)
        return cast(EndpointInfo, self._call("PATCH", path, body))

    def deployments(self, name: str, limit: int = 20) -> DeploymentsInfo:
        """The endpoint's deployment in progress (`current`) and past ones, with history."""
        path = f"/api/v1/endpoints/{_part(name)}/deployment?limit={limit}"
        return cast(DeploymentsInfo, self._call("GET", path))

    def request_deployment(self, name: str, action: str) -> DeploymentInfo:
        """`pause`, `resume`, `promote` or `rollback` the endpoint's deployment in progress."""
        path = f"/api/v1/endpoints/{_part(name)}/deployment/{_part(action)}"
        return cast(DeploymentInfo, self._call("POST", path))

    def update_traffic(
        self,
        name: str,
        weights: Mapping[str, float] | None = None,
        instance_counts: Mapping[str, int] | None = None,
    ) -> EndpointInfo:
        """Change live weights and/or instance counts; variants not named keep theirs."""
        changes: dict[str, dict[str, Any]] = {}
        for variant, weight in (weights or {}).items():
            changes.setdefault(variant, {"name": variant})["weight"] = weight
        for variant, count in (instance_counts or {}).items():
            changes.setdefault(variant, {"name": variant})["instance_count"] = count
        path = f"/api/v1/endpoints/{_part(name)}/traffic"
        return cast(EndpointInfo, self._call("POST", path, {"variants": list(changes.values())}))

    def delete_endpoint(self, name: str) -> None:
        self._call("DELETE", f"/api/v1/endpoints/{_part(name)}")

    # alarms and metrics
    def create_alarm(
        self,
        name: str,
        endpoint: str,
        metric: str,
        statistic: str,
        threshold: float,
        comparison: str,
        *,
        variant: str | None = None,
        config: str | None = None,
        period: int = 10,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        treat_missing_data: str = "missing",
    ) -> AlarmInfo:
        """An alarm on a SageMaker metric of the endpoint (or of one variant, or of one
        config's fleet), e.g. `create_alarm("digits-5xx", "digits", "Invocation5XXErrors",
        "Average", 0.05, "GreaterThanThreshold", config="digits-v2")`."""
        body = {
            "name": name, "endpoint": endpoint, "metric": metric, "statistic": statistic,
            "threshold": threshold, "comparison": comparison, "variant": variant,
            "config": config,
            "period": period, "evaluation_periods": evaluation_periods,
            "datapoints_to_alarm": datapoints_to_alarm, "treat_missing_data": treat_missing_data,
        }  # fmt: skip
        return cast(AlarmInfo, self._call("POST", "/api/v1/alarms", body))

    def list_alarms(self, endpoint: str | None = None) -> list[AlarmInfo]:
        query = f"?{urlencode({'endpoint': endpoint})}" if endpoint is not None else ""
        return cast(list[AlarmInfo], self._call("GET", f"/api/v1/alarms{query}"))

    def describe_alarm(self, name: str) -> AlarmInfo:
        return cast(AlarmInfo, self._call("GET", f"/api/v1/alarms/{_part(name)}"))

    def delete_alarm(self, name: str) -> None:
        self._call("DELETE", f"/api/v1/alarms/{_part(name)}")

    def endpoint_metrics(
        self,
        endpoint: str,
        metric: str,
        statistic: str,
        *,
        since: float = 300,
        period: int = 10,
        variant: str | None = None,
        config: str | None = None,
    ) -> MetricSeriesInfo:
        """One datapoint per `period` over the last `since` seconds, the open period included."""
        params = {"metric": metric, "statistic": statistic, "since": since, "period": period,
                  "variant": variant, "config": config}  # fmt: skip
        query = urlencode({k: v for k, v in params.items() if v is not None})
        path = f"/api/v1/endpoints/{_part(endpoint)}/metrics?{query}"
        return cast(MetricSeriesInfo, self._call("GET", path))

    def metrics_summary(self, endpoint: str, since: float = 300) -> MetricsSummaryInfo:
        """Every SageMaker metric of each variant (per fleet) over the last `since` seconds."""
        path = f"/api/v1/endpoints/{_part(endpoint)}/metrics/summary?{urlencode({'since': since})}"
        return cast(MetricsSummaryInfo, self._call("GET", path))

    # drift monitoring (docs/drift.md)
    def put_drift_baseline(self, endpoint: str, training_csv: bytes) -> dict[str, Any]:
        """Compute the endpoint's baseline from a training CSV (header row first)."""
        path = f"/api/v1/endpoints/{_part(endpoint)}/drift/baseline"
        response = self._send("PUT", path, training_csv, {"Content-Type": "text/csv"})
        if response.status_code >= 400:
            _raise_api_error(response)
        return cast(dict[str, Any], response.json())

    def drift_baseline(self, endpoint: str) -> dict[str, Any]:
        """The baseline: Model Monitor's statistics.json and constraints.json shapes."""
        path = f"/api/v1/endpoints/{_part(endpoint)}/drift/baseline"
        return cast(dict[str, Any], self._call("GET", path))

    def delete_drift_baseline(self, endpoint: str) -> None:
        self._call("DELETE", f"/api/v1/endpoints/{_part(endpoint)}/drift/baseline")

    def drift_reports(
        self, endpoint: str, since: float = 0.0, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The endpoint's drift reports, newest first."""
        query = urlencode({"since": since, "limit": limit})
        path = f"/api/v1/endpoints/{_part(endpoint)}/drift/reports?{query}"
        return cast(list[dict[str, Any]], self._call("GET", path))

    # autoscaling (docs/autoscaling.md): changed through boto3's application-autoscaling
    def scaling_targets(self) -> list[dict[str, Any]]:
        """Every scalable target with its policies."""
        return cast(list[dict[str, Any]], self._call("GET", "/api/v1/scaling/targets"))

    def scaling_activities(
        self, endpoint: str, variant: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The endpoint's scaling activities, newest first."""
        query = urlencode({k: v for k, v in (("variant", variant), ("limit", limit)) if v})
        path = f"/api/v1/endpoints/{_part(endpoint)}/scaling/activities?{query}"
        return cast(list[dict[str, Any]], self._call("GET", path))

    # shadow tests and comparisons (docs/shadow.md)
    def create_inference_experiment(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """CreateInferenceExperiment's fields (plus Tolerance); answers the experiment."""
        return cast(dict[str, Any], self._call("POST", "/api/v1/inference-experiments", request))

    def list_inference_experiments(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", "/api/v1/inference-experiments"))

    def describe_inference_experiment(self, name: str) -> dict[str, Any]:
        path = f"/api/v1/inference-experiments/{_part(name)}"
        return cast(dict[str, Any], self._call("GET", path))

    def inference_experiment_report(self, name: str) -> dict[str, Any]:
        """Agreement with production, both sides' latency and errors, examples."""
        path = f"/api/v1/inference-experiments/{_part(name)}/report"
        return cast(dict[str, Any], self._call("GET", path))

    def stop_inference_experiment(
        self,
        name: str,
        actions: Mapping[str, str],
        desired_state: str = "Completed",
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Promote, Remove or Retain each variant (ModelVariantActions)."""
        body = {"ModelVariantActions": dict(actions), "DesiredState": desired_state}
        if reason is not None:
            body["Reason"] = reason
        path = f"/api/v1/inference-experiments/{_part(name)}/stop"
        return cast(dict[str, Any], self._call("POST", path, body))

    def shadow_reports(self, endpoint: str, since: float = 3600) -> list[dict[str, Any]]:
        """Each shadow variant's comparison with production over the last `since` seconds."""
        path = f"/api/v1/endpoints/{_part(endpoint)}/shadow-report?{urlencode({'since': since})}"
        return cast(list[dict[str, Any]], self._call("GET", path))

    # routing settings, feedback and experiments (docs/experiments.md)
    def routing(self, endpoint: str) -> dict[str, Any]:
        """The endpoint's assignment key sources and targeting rules."""
        return cast(
            dict[str, Any], self._call("GET", f"/api/v1/endpoints/{_part(endpoint)}/routing")
        )

    def set_routing(
        self,
        endpoint: str,
        assignment_key: Mapping[str, str | None] | None = None,
        rules: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Change key sources (e.g. `{"header": "X-User", "cookie": None}`) and/or replace
        the targeting rules; what is not given stays."""
        body: dict[str, Any] = {}
        if assignment_key is not None:
            body["assignment_key"] = dict(assignment_key)
        if rules is not None:
            body["rules"] = [dict(r) for r in rules]
        path = f"/api/v1/endpoints/{_part(endpoint)}/routing"
        return cast(dict[str, Any], self._call("PUT", path, body))

    def send_feedback(self, endpoint: str, events: Sequence[Mapping[str, Any]]) -> int:
        """Outcome events, each `{"metric", "value", "user" or "inference_id"[, "timestamp"]}`;
        sent in batches of 10,000. Returns how many were accepted."""
        path = f"/api/v1/endpoints/{_part(endpoint)}/feedback"
        accepted = 0
        for i in range(0, len(events), 10_000):
            batch = [dict(e) for e in events[i : i + 10_000]]
            accepted += int(self._call("POST", path, {"events": batch})["accepted"])
        return accepted

    def create_experiment(self, endpoint: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        """An experiment: `{"name", "variants", "control", "primary": {"name", "kind",
        "direction"}, "guardrails", "minimum_sample", "alpha", "method", "auto_promote"}`."""
        path = f"/api/v1/endpoints/{_part(endpoint)}/experiments"
        return cast(dict[str, Any], self._call("POST", path, dict(definition)))

    def list_experiments(self, endpoint: str) -> list[dict[str, Any]]:
        path = f"/api/v1/endpoints/{_part(endpoint)}/experiments"
        return cast(list[dict[str, Any]], self._call("GET", path))

    def experiment_report(self, endpoint: str, experiment: str) -> dict[str, Any]:
        """The experiment with its report: users, comparisons, decision, feedback counts."""
        path = f"/api/v1/endpoints/{_part(endpoint)}/experiments/{_part(experiment)}"
        return cast(dict[str, Any], self._call("GET", path))

    def experiment_report_csv(self, endpoint: str, experiment: str) -> str:
        path = f"/api/v1/endpoints/{_part(endpoint)}/experiments/{_part(experiment)}/report.csv"
        response = self._send("GET", path, None, {})
        if response.status_code >= 400:
            _raise_api_error(response)
        return response.text

    def stop_experiment(self, endpoint: str, experiment: str) -> dict[str, Any]:
        path = f"/api/v1/endpoints/{_part(endpoint)}/experiments/{_part(experiment)}/stop"
        return cast(dict[str, Any], self._call("POST", path))

    # waits
    def wait_for_endpoint(
        self,
        name: str,
        status: str = "InService",
        timeout: float = 600.0,
        on_poll: Callable[[EndpointInfo], None] | None = None,
        interval: float = 0.25,
    ) -> EndpointInfo:
        """Poll until the endpoint has `status`; EndpointFailed if it fails, else WaitTimeout."""
        deadline = time.monotonic() + timeout
        while True:
            endpoint = self.describe_endpoint(name)
            if on_poll is not None:
                on_poll(endpoint)
            if endpoint["status"] == status:
                return endpoint
            if endpoint["status"] in _FAILED:
                raise EndpointFailed(name, endpoint["status"], endpoint["failure_reason"])
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"endpoint {name} is still {endpoint['status']} after {timeout:g} s"
                )
            time.sleep(interval)

    def wait_for_deleted(self, name: str, timeout: float = 300.0, interval: float = 0.25) -> None:
        """Poll until the endpoint is gone; WaitTimeout if it is still there at the end."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                endpoint = self.describe_endpoint(name)
            except TurnoutAPIError as err:
                if err.status == 404:
                    return
                raise
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"endpoint {name} is still {endpoint['status']} after {timeout:g} s"
                )
            time.sleep(interval)

    # invocations
    def invoke(
        self,
        endpoint: str,
        body: bytes | str | dict[str, Any] | list[Any],
        content_type: str = "application/json",
        accept: str | None = None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
        user: str | None = None,
        endpoint_config: str | None = None,
    ) -> Invocation:
        """InvokeEndpoint: a dict or list body is sent as JSON, a str as UTF-8. `user` is
        the assignment key (header X-Turnout-User) that makes routing sticky.
        `endpoint_config` (with `target_variant`) picks that variant of that config's fleet,
        e.g. a green fleet not yet given traffic (header X-Turnout-Endpoint-Config)."""
        if isinstance(body, dict | list):
            data = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        headers = {"Content-Type": content_type}
        for header, value in (
            ("Accept", accept),
            ("X-Amzn-SageMaker-Target-Variant", target_variant),
            ("X-Amzn-SageMaker-Custom-Attributes", custom_attributes),
            ("X-Amzn-SageMaker-Inference-Id", inference_id),
            ("X-Turnout-User", user),
            ("X-Turnout-Endpoint-Config", endpoint_config),
        ):
            if value is not None:
                headers[header] = value
        response = self._send("POST", f"/endpoints/{_part(endpoint)}/invocations", data, headers)
        if response.status_code >= 400:
            _raise_runtime_error(response)
        return Invocation(
            body=response.content,
            content_type=response.headers.get("content-type", "application/octet-stream"),
            variant=response.headers.get("x-amzn-invoked-production-variant", ""),
            custom_attributes=response.headers.get("x-amzn-sagemaker-custom-attributes"),
        )

    # plumbing
    def _call(self, method: str, path: str, body: object = None) -> Any:
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else {}
        response = self._send(method, path, content, headers)
        if response.status_code >= 400:
            _raise_api_error(response)
        return response.json() if response.content else None

    def _send(
        self, method: str, path: str, content: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, content=content, headers=headers)
        except httpx.ConnectError:
            raise TurnoutUnreachable(self.url) from None
        except httpx.TimeoutException:
            timeout = self._http.timeout.read
            raise TurnoutUnreachable(self.url, f"no answer within {timeout:g} s") from None
        except httpx.TransportError as err:
            raise TurnoutUnreachable(self.url, f"connection failed: {err}") from None
        if response.status_code == 403:
            code = response.headers.get("x-amzn-errortype", "").partition(":")[0]
            if code in _AUTH_CODES:
                self._raise_auth_error(code, str(_json_object(response).get("message", "")))
        return response

    def _raise_auth_error(self, code: str, message: str) -> NoReturn:
        """One line that says why turnout refused the signature and what to change."""
        where, keys = f"turnout at {self.url}", self.credentials
        if keys is None:
            hint = (
                f"{where} requires signed requests: pass Client(credentials=...) or set "
                f"{ACCESS_KEY_VAR}/{SECRET_KEY_VAR}"
            )
        elif code == "UnrecognizedClientException":
            hint = (
                f"{where} does not know access key {keys.access_key_id} ({keys.source}): "
                "use a key pair from the server's credentials"
            )
        elif message.startswith("The request signature we calculated does not match"):
            hint = (
                f"{where} refused the signature of access key {keys.access_key_id} "
                f"({keys.source}): the secret access key is not the one turnout has for it"
            )
        elif message.startswith("Signature "):  # expired / not yet current
            hint = (
                f"{where} refused the request signed with access key {keys.access_key_id}: "
                f"{message} (this machine's clock and the server's differ by over 5 minutes)"
            )
        else:
            hint = (
                f"{where} refused the request signed with access key {keys.access_key_id} "
                f"({keys.source}): {message or code}"
            )
        raise TurnoutAuthError(403, code, hint)


def _part(name: str) -> str:
    """A name as one URL path segment (names are plain, but a stray '/' must not route)."""
    return quote(name, safe="")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _unexpected(response: httpx.Response) -> str:
    text = _one_line(response.text)[:200] or response.reason_phrase
    return f"turnout answered {response.status_code}: {text}"


def _raise_api_error(response: httpx.Response) -> NoReturn:
    error = _json_object(response).get("error")
    if isinstance(error, dict) and "message" in error:
        raise TurnoutAPIError(
            response.status_code, str(error.get("code", "")), str(error["message"])
        )
    raise TurnoutAPIError(response.status_code, "InternalFailure", _unexpected(response))


def _raise_runtime_error(response: httpx.Response) -> NoReturn:
    """SageMaker runtime errors: the code in x-amzn-ErrorType, the message in the body."""
    code = response.headers.get("x-amzn-errortype", "").partition(":")[0]
    body = _json_object(response)
    message = body.get("message") or body.get("Message")
    if not code or not isinstance(message, str):
        raise TurnoutAPIError(
            response.status_code, code or "InternalFailure", _unexpected(response)
        )
    if code == "ModelError":
        raise ModelError(
            message, int(body.get("OriginalStatusCode", 0)), str(body.get("OriginalMessage", ""))
        )
    raise TurnoutAPIError(response.status_code, code, message)
