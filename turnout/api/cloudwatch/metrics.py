"""GetMetricStatistics, GetMetricData and ListMetrics over turnout's rollups.

Statistics come from the same code as alarms and the REST API (turnout.domain.rollups via
Monitoring), read off the event loop by the flusher; datapoints are the periods aligned to
multiples of Period since the epoch that overlap [StartTime, EndTime), and periods without
data have no datapoint, as CloudWatch answers.
"""

from __future__ import annotations

import asyncio
import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.api.cloudwatch import backlog
from turnout.api.cloudwatch.context import Answer, Context, Params, page
from turnout.api.cloudwatch.errors import (
    invalid_combination,
    invalid_next_token,
    invalid_parameter,
)
from turnout.api.cloudwatch.names import EXTENDED, Target, listed, matches, target, unit
from turnout.domain.rollups import PERIOD, STATISTICS
from turnout.metrics.series import Datapoint, period_starts, select, series
from turnout.monitoring import check_statistic

MAX_STATISTICS_DATAPOINTS = 1440  # GetMetricStatistics, as CloudWatch
MAX_DATA_DATAPOINTS = 100_800  # GetMetricData, as CloudWatch
MAX_QUERIES = 500
METRICS_PAGE = 500  # ListMetrics answers 500 a page


def at(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


def _starts(params: Params, period: int, limit: int) -> list[float]:
    start, end = params["StartTime"], params["EndTime"]
    if period < PERIOD or period % PERIOD:
        raise invalid_parameter(
            f"The parameter Period must be a multiple of {PERIOD:g} (turnout's rollup period)."
        )
    if end <= start:
        raise invalid_parameter("The parameter StartTime must be less than the parameter EndTime.")
    count = int((end - start) // period) + 1
    if count > limit:
        raise invalid_combination(
            f"You have requested up to {count} datapoints, which exceeds the limit of {limit}. "
            "You may reduce the datapoints requested by increasing Period, or decreasing the "
            "time range."
        )
    return period_starts(start, end, period)


def _check_statistics(found: Target, names: Sequence[str]) -> None:
    if found.feature is not None:  # alarms read drift; queries do not yet (ADR 0041)
        raise invalid_parameter(
            f"turnout serves {found.namespace} to alarms only: read the drift of "
            f"{found.endpoint} at GET /api/v1/endpoints/{found.endpoint}/drift/reports or "
            "/metrics (Prometheus)."
        )
    for name in names:
        if name not in STATISTICS:
            raise invalid_parameter(
                f"Statistic {name} is not kept: turnout has {', '.join(STATISTICS)}."
            )
        check_statistic(found.metric, name)


@dataclass(frozen=True)
class _Ask:
    """Statistics of one metric for the periods starting at `starts`."""

    found: Target
    names: Sequence[str]
    period: int
    starts: Sequence[float]


async def _datapoints(ctx: Context, asks: Sequence[_Ask]) -> list[dict[str, list[Datapoint]]]:
    """Each ask's datapoints by statistic: each endpoint's rollups read once (fresh, off the
    event loop), the arithmetic in a worker thread."""
    since: dict[str, float] = {}
    for ask in asks:
        if ask.starts:
            endpoint = ask.found.endpoint
            since[endpoint] = min(since.get(endpoint, math.inf), ask.starts[0])
    rollups = {e: await ctx.monitoring.rollups_since(e, start) for e, start in since.items()}

    def compute() -> list[dict[str, list[Datapoint]]]:
        found = []
        for ask in asks:
            chosen = select(
                rollups.get(ask.found.endpoint, []), ask.found.variant, ask.found.config
            )
            found.append(
                {n: series(chosen, ask.found.metric, n, ask.period, ask.starts) for n in ask.names}
            )
        return found

    return await asyncio.to_thread(compute)


async def get_metric_statistics(ctx: Context, params: Params) -> Answer:
    if backlog.is_async_metric(params["MetricName"]):
        return await _backlog_statistics(ctx, params)
    found = target(params["Namespace"], params["MetricName"], params.get("Dimensions"))
    simple, extended = params.get("Statistics") or [], params.get("ExtendedStatistics") or []
    if not simple and not extended:
        raise invalid_combination("Must specify either Statistics or ExtendedStatistics.")
    unknown = [name for name in extended if name not in EXTENDED]
    if unknown:
        raise invalid_parameter(
            f"ExtendedStatistic {unknown[0]} is not kept: turnout has {', '.join(EXTENDED)}."
        )
    _check_statistics(found, [*simple, *extended])
    period = params["Period"]
    starts = _starts(params, period, MAX_STATISTICS_DATAPOINTS)
    label = {"Label": found.metric.value}
    if params.get("Unit") not in (None, unit(found.metric)):
        return {**label, "Datapoints": []}  # no data in that unit, as CloudWatch answers
    [by_name] = await _datapoints(ctx, [_Ask(found, [*simple, *extended], period, starts)])
    datapoints = []
    for i, start in enumerate(starts):
        values = {name: by_name[name][i].value for name in simple}
        percentiles = {name: by_name[name][i].value for name in extended}
        if all(v is None for v in (*values.values(), *percentiles.values())):
            continue
        point = {"Timestamp": at(start), "Unit": unit(found.metric)}
        point |= {k: v for k, v in values.items() if v is not None}
        if extended:
            point["ExtendedStatistics"] = {k: v for k, v in percentiles.items() if v is not None}
        datapoints.append(point)
    return {**label, "Datapoints": datapoints}


async def _backlog_statistics(ctx: Context, params: Params) -> Answer:
    """GetMetricStatistics of an asynchronous inference metric (ADR 0031)."""
    name = params["MetricName"]
    endpoint = backlog.endpoint_of(params["Namespace"], params.get("Dimensions"))
    if params.get("ExtendedStatistics"):
        raise invalid_parameter(f"{name} has no percentiles: ask for Statistics.")
    wanted = params.get("Statistics") or []
    if not wanted:
        raise invalid_combination("Must specify either Statistics or ExtendedStatistics.")
    for statistic in wanted:
        backlog.check_statistic(statistic)
    period = params["Period"]
    starts = _starts(params, period, MAX_STATISTICS_DATAPOINTS)
    unit_name = backlog.unit_of(name)
    found = await backlog.datapoints(ctx.backlog, name, endpoint, starts, period)
    points = [
        {"Timestamp": at(start), "Unit": unit_name, **{s: values[s] for s in wanted}}
        for start, values in zip(starts, found, strict=True)
        if values is not None and params.get("Unit") in (None, unit_name)
    ]
    return {"Label": name, "Datapoints": points}


async def _backlog_data(ctx: Context, query: Params, params: Params) -> Answer:
    """One GetMetricData query of an asynchronous inference metric."""
    stat = query["MetricStat"]
    metric = stat["Metric"]
    name = metric["MetricName"]
    endpoint = backlog.endpoint_of(metric.get("Namespace"), metric.get("Dimensions"))
    backlog.check_statistic(stat["Stat"])
    period = query.get("Period") or stat["Period"]
    starts = _starts(params, period, MAX_STATISTICS_DATAPOINTS)
    found = await backlog.datapoints(ctx.backlog, name, endpoint, starts, period)
    points = [(s, v[stat["Stat"]]) for s, v in zip(starts, found, strict=True) if v is not None]
    if params.get("ScanBy", "TimestampDescending") == "TimestampDescending":
        points.reverse()
    return {
        "Id": query["Id"],
        "Label": query.get("Label") or name,
        "Timestamps": [at(s) for s, _ in points],
        "Values": [v for _, v in points],
        "StatusCode": "Complete",
    }


async def get_metric_data(ctx: Context, params: Params) -> Answer:
    queries = params["MetricDataQueries"]
    if len(queries) > MAX_QUERIES:
        raise invalid_parameter(f"MetricDataQueries holds at most {MAX_QUERIES} queries.")
    if params.get("NextToken"):
        raise invalid_next_token()  # turnout answers every datapoint in one page
    backlog_queries = [q for q in queries if _is_backlog_query(q)]
    queries = [q for q in queries if not _is_backlog_query(q)]
    descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    budget = params.get("MaxDatapoints", MAX_DATA_DATAPOINTS)
    asks, returned = [], []
    for query in queries:
        if query.get("Expression"):
            raise invalid_parameter(
                f"Query {query['Id']}: metric math expressions are not supported by turnout; "
                "ask for each metric with MetricStat and compute in the client."
            )
        stat = query.get("MetricStat")
        if stat is None:
            raise invalid_parameter(f"Query {query['Id']} must have a MetricStat.")
        metric = stat["Metric"]
        found = target(metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions"))
        _check_statistics(found, [stat["Stat"]])
        period = query.get("Period") or stat["Period"]
        starts = _starts(params, period, MAX_DATA_DATAPOINTS)
        budget -= len(starts)
        if budget < 0:
            raise invalid_combination(
                "The queries ask for more datapoints than MaxDatapoints; raise Period, shorten "
                "the time range or raise MaxDatapoints."
            )
        if query.get("ReturnData") is False:
            continue
        if stat.get("Unit") not in (None, unit(found.metric)):
            starts = []  # no data in that unit, as CloudWatch answers
        asks.append(_Ask(found, [stat["Stat"]], period, starts))
        returned.append(query)
    results = []
    for query, ask, by_name in zip(returned, asks, await _datapoints(ctx, asks), strict=True):
        points = [p for p in by_name[ask.names[0]] if p.value is not None]
        if descending:
            points.reverse()
        results.append(
            {
                "Id": query["Id"],
                "Label": query.get("Label") or ask.found.metric.value,
                "Timestamps": [at(p.start) for p in points],
                "Values": [p.value for p in points],
                "StatusCode": "Complete",
            }
        )
    for query in backlog_queries:
        if query.get("ReturnData") is not False:
            results.append(await _backlog_data(ctx, query, params))
    return {"MetricDataResults": results, "Messages": []}


def _is_backlog_query(query: Params) -> bool:
    stat = query.get("MetricStat")
    return stat is not None and backlog.is_async_metric(stat["Metric"].get("MetricName"))


async def list_metrics(ctx: Context, params: Params) -> Answer:
    namespace = params.get("Namespace")
    keys = await ctx.monitoring.metric_keys()
    found = [
        t
        for t in listed(keys, namespace)
        if matches(t, params.get("MetricName"), params.get("Dimensions") or ())
    ]
    shown, token = page(found, params.get("NextToken"), METRICS_PAGE)
    metrics = [
        {"Namespace": t.namespace, "MetricName": t.metric.value, "Dimensions": t.dimensions()}
        for t in shown
    ]
    return {"Metrics": metrics, **({"NextToken": token} if token else {})}
