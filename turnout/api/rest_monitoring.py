"""The native REST API's alarms and metric queries (part of /api/v1).

Alarm handlers are plain `def`s (the store runs in FastAPI's thread pool); metric queries
are coroutines, because the fresh counts they add to the store's live on the event loop.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from turnout.api.monitoring_schemas import (
    AlarmIn,
    AlarmOut,
    MetricSeriesOut,
    MetricsSummaryOut,
    VariantMetricsOut,
)
from turnout.api.schemas import ErrorOut
from turnout.domain.rollups import PERIOD, STATISTICS, Metric
from turnout.monitoring import Monitoring

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The request breaks a rule."},
    404: {"model": ErrorOut, "description": "No such resource."},
    409: {"model": ErrorOut, "description": "Exists already."},
}
MAX_SINCE = 7 * 24 * 3600.0

Since = Annotated[
    float,
    Query(gt=0, le=MAX_SINCE, description="How far back to look, in seconds from now."),
]


def monitoring_routes(monitoring: Monitoring) -> APIRouter:
    api = APIRouter(prefix="/api/v1", responses=_ERRORS)

    @api.post("/alarms", status_code=201, tags=["alarms"])
    def create_alarm(body: AlarmIn) -> AlarmOut:
        """Create an alarm on an endpoint's metric; it starts INSUFFICIENT_DATA and is
        evaluated every second."""
        return AlarmOut.of(monitoring.create_alarm(body.resource()))

    @api.get("/alarms", tags=["alarms"])
    def list_alarms(
        endpoint: Annotated[str | None, Query(description="Only this endpoint's.")] = None,
    ) -> list[AlarmOut]:
        return [AlarmOut.of(s) for s in monitoring.list_alarms(endpoint)]

    @api.get("/alarms/{name}", tags=["alarms"])
    def describe_alarm(name: str) -> AlarmOut:
        """The alarm's definition, state, reason and latest state changes."""
        return AlarmOut.of(*monitoring.describe_alarm(name))

    @api.delete("/alarms/{name}", status_code=204, tags=["alarms"])
    def delete_alarm(name: str) -> None:
        monitoring.delete_alarm(name)

    @api.get("/endpoints/{name}/metrics", tags=["metrics"])
    async def endpoint_metrics(
        name: str,
        metric: Metric,
        statistic: Annotated[str, Query(description=f"One of {', '.join(STATISTICS)}.")],
        since: Since = 300.0,
        period: Annotated[int, Query(description="Seconds per datapoint, a multiple of 10.")] = int(
            PERIOD
        ),
        variant: str | None = None,
        config: Annotated[str | None, Query(description="Only this fleet's.")] = None,
    ) -> MetricSeriesOut:
        """One datapoint per period, oldest first, the open period included (latencies in
        microseconds; Average of an error count is the error rate)."""
        points = await monitoring.series(
            name, metric, statistic, seconds=since, period=period, variant=variant, config=config
        )
        return MetricSeriesOut(
            endpoint=name, metric=metric, statistic=statistic, period=period, variant=variant,
            config=config, datapoints=MetricSeriesOut.points(points),
        )  # fmt: skip

    @api.get("/endpoints/{name}/metrics/summary", tags=["metrics"])
    async def endpoint_metrics_summary(name: str, since: Since = 300.0) -> MetricsSummaryOut:
        """Every SageMaker metric of each variant (per fleet) over the last `since` seconds."""
        summaries = await monitoring.summary(name, seconds=since)
        return MetricsSummaryOut(
            endpoint=name, seconds=since, variants=[VariantMetricsOut.of(s) for s in summaries]
        )

    return api
