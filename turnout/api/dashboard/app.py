"""The dashboard `turnout serve` shows at `/`: read-only pages over the same data as the API.

Two pages (the endpoints overview, one endpoint) are static HTML + JavaScript that poll a
JSON view every two seconds and draw with Plotly, served from the installed `plotly`
package. The JSON views are computed here from the control plane and the flusher's fresh
rollups (the store's plus this process's not written yet), so they match the metrics API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from turnout.api.dashboard import views
from turnout.api.dashboard.alarms import alarm_row
from turnout.api.dashboard.assets import CompressedAsset, plotly_js, plotly_version
from turnout.api.dashboard.fleets import canary_share, fleets
from turnout.api.dashboard.progress import progress
from turnout.api.deployments import deployments_of
from turnout.api.experiments import report_out
from turnout.api.rest_scaling import ActivityOut, TargetOut
from turnout.api.schemas import EndpointOut, InstanceOut
from turnout.asgi import Scope
from turnout.deploy import alarm_data
from turnout.deploy.scaling_service import ScalingService
from turnout.domain.alarms import AlarmStatus
from turnout.domain.deployments import Deployment
from turnout.domain.drift import DriftPoint, points_of
from turnout.domain.plans import RoutingPlan
from turnout.domain.resources import Endpoint
from turnout.domain.rollups import Rollup, align
from turnout.drift.service import DriftService
from turnout.errors import NotFound, StoreUnavailable
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
    scaling: ScalingService


def is_dashboard_request(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] in ("GET", "HEAD") and (path == "/" or path.startswith(PREFIX))


def _pages() -> dict[str, str]:
    """The HTML pages, read once, naming plotly.js by its version (so it caches for good)."""
    version = plotly_version()
    return {
        name: (STATIC / name).read_text().replace("{{plotly_version}}", version)
        for name in ("index.html", "endpoint.html", "missing.html")
    }


def build_dashboard(sources: DashboardSources, drift: DriftService | None = None) -> Starlette:
    pages = _pages()
    plotly_asset = CompressedAsset(plotly_js())

    async def index(_: Request) -> Response:
        return HTMLResponse(pages["index.html"], headers=_NO_CACHE)

    async def endpoint_page(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            await asyncio.to_thread(sources.control.describe_endpoint, name)
        except NotFound:
            return HTMLResponse(pages["missing.html"], 404, headers=_NO_CACHE)
        return HTMLResponse(pages["endpoint.html"], headers=_NO_CACHE)

    async def plotly(request: Request) -> Response:
        return await plotly_asset.response(request)

    async def overview(_: Request) -> Response:
        endpoints = await asyncio.to_thread(sources.control.list_endpoints)
        alarms = await asyncio.to_thread(sources.monitoring.list_alarms)
        now = time.time()
        rows = []
        for endpoint in endpoints:
            try:
                facts = await asyncio.to_thread(_read, sources, endpoint.name, alarms)
            except NotFound:  # deleted meanwhile
                continue
            rollups = await sources.flusher.rollups(endpoint.name, facts.since(now))
            rows.append(_endpoint_view(facts, rollups, now))
        return JSONResponse({"now": now, "endpoints": rows}, headers=_NO_CACHE)

    async def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            facts = await asyncio.to_thread(_read, sources, name)
        except NotFound:
            return JSONResponse(
                {"error": {"code": "NotFound", "message": f"no endpoint named {name}"}}, 404
            )
        now = time.time()
        rollups = await sources.flusher.rollups(
            name, min(facts.since(now), align(now - views.SERIES_SECONDS))
        )
        deployments = await asyncio.to_thread(deployments_of, sources.control, name, 10)
        experiments = await asyncio.to_thread(_experiment_reports, sources.experiments, name)
        shadows = await asyncio.to_thread(
            sources.inference_experiments.endpoint_reports, name, SHADOW_SECONDS
        )
        scaling = await asyncio.to_thread(_scaling, sources.scaling, name)
        reports = {} if drift is None else await asyncio.to_thread(drift.latest, name)
        view = _endpoint_view(facts, rollups, now, _drift_points(reports))
        return JSONResponse(
            {
                "now": now,
                **view,
                "series": views.series(rollups, now),
                "usage": views.usage(facts.instances),
                "deployments": deployments.model_dump(),
                "experiments": experiments,
                "shadows": shadows,
                "scaling": scaling,
                "drift": list(reports.values()),
                "shadow_instances": [
                    _instance(i)
                    for i in facts.instances
                    if i.spec.variant in view["endpoint"]["shadows"]
                ],
            },
            headers=_NO_CACHE,
        )

    return Starlette(
        routes=[
            Route("/", index),
            Route("/dashboard/endpoints/{name}", endpoint_page),
            Route("/dashboard/static/plotly.min.js", plotly),
            Mount("/dashboard/static", StaticFiles(directory=STATIC)),
            Route("/dashboard/api/overview", overview),
            Route("/dashboard/api/endpoints/{name}", endpoint),
        ],
        exception_handlers={StoreUnavailable: _store_unavailable},
    )


def _scaling(scaling: ScalingService, name: str) -> dict[str, Any]:
    """The endpoint's scalable targets and its last activities (the REST API's shapes)."""
    policies = scaling.policies(name)
    return {
        "targets": [TargetOut.of(t, policies).model_dump() for t in scaling.targets(name)],
        "activities": [ActivityOut.of(a).model_dump() for a in scaling.activities(name, limit=10)],
    }


async def _store_unavailable(_: Request, exc: Exception) -> Response:
    """The pages poll on: they show the error until the store is back (ADR 0033)."""
    body = {"error": {"code": "ServiceUnavailable", "message": str(exc)}}
    return JSONResponse(body, status_code=503, headers=_NO_CACHE)


@dataclass(frozen=True)
class _Facts:
    """What the store and the instances say of one endpoint, read in one thread hop."""

    endpoint: Endpoint
    instances: list[Instance]
    plan: RoutingPlan | None
    deployment: Deployment | None  # in progress
    alarms: list[AlarmStatus]
    shadows: list[str]  # the serving config's shadow variants

    def since(self, now: float) -> float:
        """The oldest rollup the view needs: five minutes, or an alarm's longer window."""
        return min(
            [align(now - views.COUNT_SECONDS)]
            + [alarm_data.since(a.alarm, now) for a in self.alarms]
        )


def _read(
    sources: DashboardSources, name: str, alarms: Iterable[AlarmStatus] | None = None
) -> _Facts:
    control = sources.control
    endpoint = control.describe_endpoint(name)
    current, _ = control.endpoint_fleets(name)
    deployment = control.latest_deployment(name)
    return _Facts(
        endpoint=endpoint,
        instances=control.endpoint_instances(name),
        plan=sources.control.routing_plan(name),
        deployment=None if deployment is None or deployment.phase.finished else deployment,
        alarms=[a for a in alarms if a.alarm.endpoint == name]
        if alarms is not None
        else sources.monitoring.list_alarms(name),
        shadows=[v.name for v in current.config.shadow_variants],
    )


def _drift_points(reports: dict[str, dict[str, Any]]) -> list[DriftPoint]:
    return [p for v, r in reports.items() for p in points_of(r["computed_at"], v, r)]


def _endpoint_view(
    facts: _Facts, rollups: list[Rollup], now: float, drifts: list[DriftPoint] | None = None
) -> dict[str, Any]:
    """What the overview and the endpoint page both show of an endpoint."""
    recent = {(r.key.config, r.key.variant) for r in rollups if r.window.invocations}
    found = fleets(facts.endpoint, facts.plan, facts.instances, recent)
    shadows = {(v["config"], v["variant"]) for f in found for v in f["variants"] if v["shadow"]}
    document = EndpointOut.of(facts.endpoint, facts.instances).model_dump()
    document["shadows"] = facts.shadows
    d = facts.deployment
    return {
        "endpoint": document,
        "fleets": found,
        "summary": views.summary(rollups, now),
        "totals": views.totals(rollups, now, shadows),
        "deployment": None if d is None else progress(d, now, canary_share(found, d.green_config)),
        "alarms": [alarm_row(a, rollups, now, drifts or ()) for a in facts.alarms],
    }


def _instance(instance: Instance) -> dict[str, Any]:
    return InstanceOut.of(instance).model_dump()


SHADOW_SECONDS = 3600.0  # shadow comparisons: over the last hour
MAX_REPORTS = 3  # the running experiments first, then the latest stopped ones


def _experiment_reports(experiments: ExperimentService, name: str) -> list[dict[str, Any]]:
    records = sorted(
        experiments.list_for(name), key=lambda r: (r.status != "running", -r.created_at)
    )
    return [report_out(experiments.report(name, r.name)) for r in records[:MAX_REPORTS]]
