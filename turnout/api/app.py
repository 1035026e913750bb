"""The one ASGI app `turnout serve` runs: the data path beside the control plane.

Invocations go straight to the raw runtime handler; AWS JSON 1.1 calls (`POST /` with
X-Amz-Target) to the SageMaker facade; `/metrics` to the Prometheus exposition; everything
else to the REST API's framework.
Checking one path prefix first keeps the frameworks off the data path entirely.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from turnout.api.auth import SigV4Guard
from turnout.api.autoscaling import AutoscalingApi, is_autoscaling_request
from turnout.api.cloudwatch import CloudWatchApi, is_cloudwatch_request
from turnout.api.cloudwatch.backlog import BacklogSource
from turnout.api.csrf import CrossSiteGuard
from turnout.api.dashboard import build_dashboard, is_dashboard_request
from turnout.api.limits import BoundedBody
from turnout.api.logs import LogsApi, is_logs_request
from turnout.api.prometheus import PATH as METRICS_PATH
from turnout.api.prometheus import PrometheusMetrics
from turnout.api.rest import build_rest_app
from turnout.api.rest_drift import BASELINE_SUFFIX
from turnout.api.runtime.async_invoke import SUFFIX as ASYNC_SUFFIX
from turnout.api.runtime.async_invoke import InvokeEndpointAsync
from turnout.api.runtime.sagemaker import PREFIX, InvokeEndpoint
from turnout.api.runtime.v2_endpoints import EndpointModels
from turnout.api.runtime.v2_grpc import GrpcServer, start_grpc_server
from turnout.api.runtime.v2_http import PREFIX as V2_PREFIX
from turnout.api.runtime.v2_http import OpenInferenceHttp
from turnout.api.sagemaker import SageMakerApi, is_sagemaker_request
from turnout.asgi import Receive, Scope, Send
from turnout.async_inference.worker import AsyncWorker
from turnout.deploy.scaling_service import ScalingService
from turnout.drift.service import DriftService
from turnout.experiments.routing import RoutingService
from turnout.experiments.service import FEEDBACK_MAX_BYTES, ExperimentService
from turnout.instances.backend import InstanceBackend
from turnout.metrics.flusher import Flusher
from turnout.monitoring import Monitoring
from turnout.routing.dispatch import Dispatcher
from turnout.routing.router import Router
from turnout.service import ControlPlane
from turnout.settings import Settings
from turnout.shadow.experiments import InferenceExperiments
from turnout.store import Store
from turnout.store.async_queue import AsyncQueue


class Lifecycle(Protocol):
    settings: Settings
    router: Router
    control: ControlPlane
    monitoring: Monitoring
    flusher: Flusher
    routing: RoutingService
    experiments: ExperimentService
    inference_experiments: InferenceExperiments
    store: Store
    async_queue: AsyncQueue
    async_worker: AsyncWorker
    scaling: ScalingService

    @property
    def backend(self) -> InstanceBackend: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class App:
    def __init__(self, runtime: Lifecycle) -> None:
        self._runtime = runtime
        dispatcher = self._dispatcher = Dispatcher(runtime.router)
        self._invocations = InvokeEndpoint(dispatcher)
        self._async_invocations = InvokeEndpointAsync(
            runtime.store,
            runtime.async_queue,
            runtime.settings.account_id,
            runtime.async_worker.wake,
        )
        self._models = EndpointModels(dispatcher)  # the Open Inference Protocol's view
        self._open_inference = OpenInferenceHttp(self._models, runtime.settings.max_payload_bytes)
        self._grpc: GrpcServer | None = None
        drift = DriftService(runtime.store)
        self._prometheus = PrometheusMetrics(
            runtime.router,
            runtime.backend.instances,
            runtime.control,
            runtime.monitoring,
            lambda: runtime.async_worker.backlogs,
            (runtime.scaling.activity_counts,),
            drift.latest_points,
        )
        rest = build_rest_app(
            runtime.control,
            runtime.monitoring,
            runtime.routing,
            runtime.experiments,
            runtime.inference_experiments,
            runtime.scaling,
            drift,
        )
        self._rest = BoundedBody(rest)
        self._feedback = BoundedBody(rest, FEEDBACK_MAX_BYTES)  # batches of 10,000 events
        self._dashboard = build_dashboard(runtime, drift)
        settings = runtime.settings
        self._sagemaker = SageMakerApi(
            runtime.control,
            settings.account_id,
            settings.region,
            runtime.inference_experiments,
        )
        self._cloudwatch = CloudWatchApi(
            runtime.monitoring,
            settings.account_id,
            settings.region,
            BacklogSource(runtime.async_queue, self._prometheus.ready_instances),
            runtime.scaling.rows,
        )
        self._logs = LogsApi(settings.data_dir / "logs", settings.account_id, settings.region)
        self._autoscaling = AutoscalingApi(runtime.scaling, settings.account_id, settings.region)
        # With credentials, every request but the health check must be SigV4-signed.
        guarded: Callable[[Scope, Receive, Send], Awaitable[None]] = (
            SigV4Guard(
                self._route,
                settings.credentials,
                settings.max_payload_bytes,
                for_browsers=_takes_basic_auth,
            )
            if settings.credentials
            else self._route
        )
        # First of all, with or without credentials: no browser writes from another site.
        self._http = CrossSiteGuard(guarded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path.startswith(PREFIX):
            if path.endswith(ASYNC_SUFFIX):
                await self._async_invocations(scope, receive, send)
            else:
                await self._invocations(scope, receive, send)
        elif path == V2_PREFIX or path.startswith(V2_PREFIX + "/"):
            await self._open_inference(scope, receive, send)
        elif is_logs_request(scope):  # before SageMaker's, which takes any X-Amz-Target
            await self._logs(scope, receive, send)
        elif is_autoscaling_request(scope):  # before SageMaker's: both are `POST /`
            await self._autoscaling(scope, receive, send)
        elif is_cloudwatch_request(scope):  # before SageMaker's: both are `POST /`
            await self._cloudwatch(scope, receive, send)
        elif is_sagemaker_request(scope):
            await self._sagemaker(scope, receive, send)
        elif _is_feedback(scope["path"]) or scope["path"].endswith(BASELINE_SUFFIX):
            await self._feedback(scope, receive, send)
        elif scope["path"] == METRICS_PATH:
            await self._prometheus(scope, receive, send)
        elif is_dashboard_request(scope):
            await self._dashboard(scope, receive, send)
        else:
            await self._rest(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._runtime.start()
                    await self._start_grpc()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._grpc is not None:
                    await self._grpc.stop()
                await self._dispatcher.mirror.close()
                await self._runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start_grpc(self) -> None:
        settings = self._runtime.settings
        if settings.grpc_port is None:
            return
        try:
            self._grpc = await start_grpc_server(
                self._models,
                settings.host,
                settings.grpc_port,
                max_message_bytes=settings.max_payload_bytes + 64 * 1024,
                credentials=settings.credentials,
            )
        except OSError as err:
            raise RuntimeError(f"{err}; give another --grpc-port") from None


def _is_feedback(path: str) -> bool:
    return path.startswith("/api/v1/endpoints/") and path.endswith("/feedback")


def _takes_basic_auth(scope: Scope) -> bool:
    """Clients that cannot sign SigV4: browsers (the dashboard), Prometheus (`/metrics`,
    whose scrape config has `basic_auth`) and Open Inference Protocol clients (/v2)."""
    path = scope["path"]
    return (
        is_dashboard_request(scope)
        or (path == METRICS_PATH and scope["method"] in ("GET", "HEAD"))
        or path == V2_PREFIX
        or path.startswith(V2_PREFIX + "/")
    )
