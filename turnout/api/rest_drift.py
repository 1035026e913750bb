"""The native REST API of drift monitoring (ADR 0041): an endpoint's baseline, computed
from a training CSV sent as the body, and its drift reports. Plain `def`s: the store runs in
FastAPI's thread pool."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request

from turnout.drift.service import MAX_REPORTS, DriftService

BASELINE_SUFFIX = "/drift/baseline"  # its body (a CSV) may be larger than other documents


def drift_routes(drift: DriftService, errors: dict[int | str, dict[str, Any]]) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["drift"])

    @api.put(
        "/endpoints/{name}/drift/baseline",
        responses=errors,
        openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def put_baseline(name: str, request: Request) -> dict[str, Any]:
        """Compute the endpoint's baseline from a training CSV (a header row naming the
        features, in the order requests send them); replaces any earlier one."""
        body = await request.body()
        return await asyncio.to_thread(drift.put_baseline, name, body)

    @api.get("/endpoints/{name}/drift/baseline", responses=errors)
    def get_baseline(name: str) -> dict[str, Any]:
        """The baseline as Model Monitor's statistics.json and constraints.json."""
        return drift.baseline(name)

    @api.delete("/endpoints/{name}/drift/baseline", status_code=204, responses=errors)
    def delete_baseline(name: str) -> None:
        """Stop monitoring the endpoint: its baseline and reports are deleted."""
        drift.delete_baseline(name)

    @api.get("/endpoints/{name}/drift/reports", responses=errors)
    def reports(
        name: str, since: float = 0.0, limit: int = Query(50, ge=1, le=MAX_REPORTS)
    ) -> list[dict[str, Any]]:
        """The endpoint's drift reports (per variant and pass), newest first."""
        return drift.reports(name, since, limit)

    return api
