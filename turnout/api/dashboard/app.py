"""The dashboard `turnout serve` shows at `/`: read-only pages over the same data as the API.

Two pages (the endpoints overview, one endpoint) are static HTML + JavaScript that poll a
JSON view every two seconds and draw with Plotly, served from the installed `plotly`
package. The JSON views are computed here from the control plane and the flusher's fresh
rollups (the store's plus this process's not written yet), so they match the metrics API.
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from turnout.api.dashboard import views
from turnout.api.deployments import deployments_of
from turnout.api.experiments import report_out
from turnout.api.schemas import EndpointOut, InstanceOut
from turnout.asgi import Scope
from turnout.domain.alarms import watched_traffic
from turnout.domain.rollups import align
from turnout.errors import NotFound
from turnout.experiments.service import ExperimentService
from turnout.instances.backend import Instance
from turnout.metrics.flusher import Flusher
from turnout.monitoring import Monitoring
from turnout.service import ControlPlane
from turnout.shadow.experiments import InferenceExperiments

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/dashboard/"
_NO_CACHE = {"cache-control": "no-store"}


class DashboardSources(Protocol):
    control: ControlPlane
    flusher: Flusher
    monitoring: Monitoring
    experiments: ExperimentService
    inference_experiments: InferenceExperiments


def is_dashboard_request(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] in ("GET", "HEAD") and (path == "/" or path.startswith(PREFIX))


def plotly_js() -> Path:
    """plotly.js as the `plotly` Python package ships it (no CDN: turnout runs offline)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def build_dashboard(sources: DashboardSources) -> Starlette:
    async def page(request: Request) -> Response:
        name = "endpoint.html" if "name" in request.path_params else "index.html"
        return FileResponse(STATIC / name, headers=_NO_CACHE)

    async def plotly(_: Request) -> Response:
        # Immutable for a given turnout install: let the browser keep it.
        return FileResponse(plotly_js(), headers={"cache-control": "max-age=86400"})

    async def overview(_: Request) -> Response:
        endpoints = await asyncio.to_thread(sources.control.list_endpoints)
        now = time.time()
        rows = []
        for endpoint in endpoints:
            rollups = await sources.flusher.rollups(endpoint.name, align(now - views.COUNT_SECONDS))
            rows.append(
                {
                    "endpoint": await _endpoint_document(sources, endpoint.name),
                    "summary": views.summary(rollups, now),
                }
            )
        return JSONResponse({"now": now, "endpoints": rows}, headers=_NO_CACHE)

    async def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            document = await _endpoint_document(sources, name)
        except NotFound:
            return JSONResponse(
                {"error": {"code": "NotFound", "message": f"no endpoint named {name}"}}, 404
            )
        now = time.time()
        since = align(now - max(views.SERIES_SECONDS, views.COUNT_SECONDS))
        rollups = await sources.flusher.rollups(name, since)
        alarms = await asyncio.to_thread(sources.monitoring.list_alarms, name)
        instances = await asyncio.to_thread(sources.control.endpoint_instances, name)
        deployments = await asyncio.to_thread(deployments_of, sources.control, name, 10)
        experiments = await asyncio.to_thread(_experiment_reports, sources.experiments, name)
        shadows = await asyncio.to_thread(
            sources.inference_experiments.endpoint_reports, name, SHADOW_SECONDS
        )
        return JSONResponse(
            {
                "now": now,
                "endpoint": document,
                "summary": views.summary(rollups, now),
                "series": views.series(rollups, now),
                "usage": views.usage(instances),
                "deployments": deployments.model_dump(),
                "experiments": experiments,
                "shadows": shadows,
                "shadow_instances": [
                    _instance(i) for i in instances if i.spec.variant in document["shadows"]
                ],
                "alarms": [
                    {
                        "name": a.alarm.name,
                        "metric": a.alarm.metric.value,
                        "watches": watched_traffic(a.alarm.variant, a.alarm.config),
                        "state": a.state.value,
                        "reason": a.reason,
                        "since": a.state_updated_at,
                    }
                    for a in alarms
                ],
            },
            headers=_NO_CACHE,
        )

    return Starlette(
        routes=[
            Route("/", page),
            Route("/dashboard/endpoints/{name}", page),
            Route("/dashboard/static/plotly.min.js", plotly),
            Mount("/dashboard/static", StaticFiles(directory=STATIC)),
            Route("/dashboard/api/overview", overview),
            Route("/dashboard/api/endpoints/{name}", endpoint),
        ]
    )


async def _endpoint_document(sources: DashboardSources, name: str) -> dict[str, Any]:
    control = sources.control
    endpoint = await asyncio.to_thread(control.describe_endpoint, name)
    instances = await asyncio.to_thread(control.endpoint_instances, name)
    current, _ = await asyncio.to_thread(control.endpoint_fleets, name)
    document = EndpointOut.of(endpoint, instances).model_dump()
    document["shadows"] = [v.name for v in current.config.shadow_variants]
    return document


def _instance(instance: Instance) -> dict[str, Any]:
    return InstanceOut.of(instance).model_dump()


SHADOW_SECONDS = 3600.0  # shadow comparisons: over the last hour
MAX_REPORTS = 3  # the running experiments first, then the latest stopped ones


def _experiment_reports(experiments: ExperimentService, name: str) -> list[dict[str, Any]]:
    records = sorted(
        experiments.list_for(name), key=lambda r: (r.status != "running", -r.created_at)
    )
    return [report_out(experiments.report(name, r.name)) for r in records[:MAX_REPORTS]]
