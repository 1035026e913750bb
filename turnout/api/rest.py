"""The native REST API under /api/v1 (JSON, OpenAPI at /api/v1/openapi.json).

Handlers are plain `def`s: FastAPI runs them in its thread pool, where the synchronous
service layer and store belong. Errors are `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

import turnout
from turnout.api.deployments import DeploymentOut, deployment_routes
from turnout.api.experiments import experiment_routes
from turnout.api.limits import document_bound
from turnout.api.rest_drift import drift_routes
from turnout.api.rest_monitoring import monitoring_routes
from turnout.api.rest_nodes import node_routes
from turnout.api.rest_scaling import scaling_routes
from turnout.api.rest_shadow import shadow_routes
from turnout.api.schemas import (
    EndpointConfigIn,
    EndpointConfigOut,
    EndpointIn,
    EndpointOut,
    EndpointUpdateIn,
    ErrorOut,
    ModelIn,
    ModelOut,
    TrafficIn,
)
from turnout.deploy.plans import DesiredVariant
from turnout.deploy.scaling_service import ScalingService
from turnout.domain.resources import MULTI_MODEL, SINGLE_MODEL, Model
from turnout.drift.service import DriftService
from turnout.errors import (
    AlreadyExists,
    Conflict,
    InvalidRequest,
    NotFound,
    StoreUnavailable,
    TurnoutError,
)
from turnout.experiments.routing import RoutingService
from turnout.experiments.service import ExperimentService
from turnout.monitoring import Monitoring
from turnout.service import ControlPlane
from turnout.shadow.experiments import InferenceExperiments

_STATUS = {
    InvalidRequest: 400,
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    StoreUnavailable: 503,
}
_CODE = {
    InvalidRequest: "ValidationError",
    NotFound: "NotFound",
    AlreadyExists: "AlreadyExists",
    Conflict: "Conflict",
    StoreUnavailable: "ServiceUnavailable",
}
# Routing errors (no such path, wrong method) in the same shape as the service's errors.
_HTTP_CODE = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The request breaks a rule."},
    404: {"model": ErrorOut, "description": "No such resource."},
    409: {"model": ErrorOut, "description": "Exists already, or busy."},
    503: {"model": ErrorOut, "description": "The store is unavailable for now: retry."},
}


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _problem(e: dict[str, Any]) -> str:
    """One pydantic error as `field.path: message`."""
    if e.get("type") == "json_invalid":  # its loc is a character offset, not a field
        return f"body: not valid JSON ({e.get('ctx', {}).get('error', 'decode error')})"
    return f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"


def build_rest_app(
    control: ControlPlane,
    monitoring: Monitoring,
    routing: RoutingService | None = None,
    experiments: ExperimentService | None = None,
    inference_experiments: InferenceExperiments | None = None,
    scaling: ScalingService | None = None,
    drift: DriftService | None = None,
) -> FastAPI:
    api = FastAPI(
        title="turnout",
        version=turnout.__version__,
        description="Native control-plane API of turnout. Invocations use SageMaker's runtime "
        "path: POST /endpoints/{name}/invocations.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )

    @api.exception_handler(TurnoutError)
    async def _turnout_error(_: Request, exc: TurnoutError) -> JSONResponse:
        kind = next((k for k in _STATUS if isinstance(exc, k)), InvalidRequest)
        return error(_STATUS[kind], _CODE[kind], str(exc))

    @api.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        fallback = "ValidationError" if exc.status_code < 500 else "InternalFailure"
        code = _HTTP_CODE.get(exc.status_code, fallback)
        message = f"{exc.detail}: {request.method} {request.url.path}; see /api/v1/docs"
        response = error(exc.status_code, code, message)
        response.headers.update(exc.headers or {})  # e.g. Allow on 405
        return response

    @api.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_problem(e) for e in exc.errors())
        return error(400, "ValidationError", f"Invalid request: {problems}")

    @api.get("/api/v1/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": turnout.__version__}

    # models
    @api.post("/api/v1/models", status_code=201, responses=_ERRORS, tags=["models"])
    def create_model(body: ModelIn) -> ModelOut:
        created = control.create_model(
            Model(
                name=body.name,
                artifact=body.artifact,
                flavor=body.flavor,
                command=tuple(body.command) if body.command is not None else None,
                environment=body.environment,
                image=body.image,
                execution_role_arn=body.execution_role_arn,
                mode=MULTI_MODEL if body.mode == "multi_model" else SINGLE_MODEL,
            )
        )
        return ModelOut.of(created.model, created.warnings)

    @api.get("/api/v1/models", tags=["models"])
    def list_models() -> list[ModelOut]:
        return [ModelOut.of(m) for m in control.list_models()]

    @api.get("/api/v1/models/{name}", responses=_ERRORS, tags=["models"])
    def describe_model(name: str) -> ModelOut:
        return ModelOut.of(control.describe_model(name))

    @api.delete("/api/v1/models/{name}", status_code=204, responses=_ERRORS, tags=["models"])
    def delete_model(name: str) -> None:
        control.delete_model(name)

    # endpoint configs
    @api.post(
        "/api/v1/endpoint-configs", status_code=201, responses=_ERRORS, tags=["endpoint configs"]
    )
    def create_endpoint_config(body: EndpointConfigIn) -> EndpointConfigOut:
        return EndpointConfigOut.of(control.create_endpoint_config(body.resource()))

    @api.get("/api/v1/endpoint-configs", tags=["endpoint configs"])
    def list_endpoint_configs() -> list[EndpointConfigOut]:
        return [EndpointConfigOut.of(c) for c in control.list_endpoint_configs()]

    @api.get("/api/v1/endpoint-configs/{name}", responses=_ERRORS, tags=["endpoint configs"])
    def describe_endpoint_config(name: str) -> EndpointConfigOut:
        return EndpointConfigOut.of(control.describe_endpoint_config(name))

    @api.delete(
        "/api/v1/endpoint-configs/{name}",
        status_code=204,
        responses=_ERRORS,
        tags=["endpoint configs"],
    )
    def delete_endpoint_config(name: str) -> None:
        control.delete_endpoint_config(name)

    # endpoints
    def endpoint_out(name: str) -> EndpointOut:
        out = EndpointOut.of(
            control.describe_endpoint(name),
            control.endpoint_instances(name),
            control.data_capture(name),
            control.endpoint_models(name),
        )
        deployment = control.latest_deployment(name)
        if deployment is not None and not deployment.phase.finished:
            out.deployment = DeploymentOut.of(deployment)
        return out

    @api.post("/api/v1/endpoints", status_code=201, responses=_ERRORS, tags=["endpoints"])
    def create_endpoint(body: EndpointIn) -> EndpointOut:
        control.create_endpoint(body.name, body.config)
        return endpoint_out(body.name)

    @api.get("/api/v1/endpoints", tags=["endpoints"])
    def list_endpoints() -> list[EndpointOut]:
        return [
            EndpointOut.of(e, control.endpoint_instances(e.name), control.data_capture(e.name))
            for e in control.list_endpoints()
        ]

    @api.get("/api/v1/endpoints/{name}", responses=_ERRORS, tags=["endpoints"])
    def describe_endpoint(name: str) -> EndpointOut:
        return endpoint_out(name)

    @api.patch("/api/v1/endpoints/{name}", status_code=202, responses=_ERRORS, tags=["endpoints"])
    def update_endpoint(name: str, body: EndpointUpdateIn) -> EndpointOut:
        policy = body.deployment_config.policy() if body.deployment_config else None
        test = body.prediction_test.test() if body.prediction_test else None
        control.update_endpoint(name, body.config, policy, test)
        return endpoint_out(name)

    @api.post(
        "/api/v1/endpoints/{name}/traffic", status_code=202, responses=_ERRORS, tags=["endpoints"]
    )
    def update_traffic(name: str, body: TrafficIn) -> EndpointOut:
        """Live weights and instance counts (SageMaker's UpdateEndpointWeightsAndCapacities)."""
        control.update_endpoint_weights_and_capacities(
            name,
            [DesiredVariant(v.name, v.weight, v.instance_count) for v in body.variants],
        )
        return endpoint_out(name)

    @api.delete("/api/v1/endpoints/{name}", status_code=202, responses=_ERRORS, tags=["endpoints"])
    def delete_endpoint(name: str) -> None:
        control.delete_endpoint(name)

    api.include_router(deployment_routes(control, _ERRORS))
    api.include_router(monitoring_routes(monitoring))
    api.include_router(node_routes(control))
    if inference_experiments is not None:
        api.include_router(shadow_routes(inference_experiments, _ERRORS))
    if routing is not None and experiments is not None:
        api.include_router(experiment_routes(routing, experiments, _ERRORS))
    if scaling is not None:
        api.include_router(scaling_routes(scaling, _ERRORS))
    if drift is not None:
        api.include_router(drift_routes(drift, _ERRORS))
    document_bound(api)  # BoundedBody's 413, which no route declares
    return api
