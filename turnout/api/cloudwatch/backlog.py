"""SageMaker's asynchronous inference metrics in GetMetricStatistics and GetMetricData
(AWS/SageMaker, dimension EndpointName): computed from the queue's rows in the store
(turnout.metrics.async_backlog), not from rollups (ADR 0031)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from turnout.api.cloudwatch.errors import invalid_parameter
from turnout.api.cloudwatch.names import ENDPOINT, NAMESPACE
from turnout.domain.async_inference import Wait
from turnout.metrics.async_backlog import ASYNC_METRICS, UNITS, statistics

SIMPLE = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")


class WaitReads(Protocol):
    def waits(self, endpoint: str, since: float, until: float) -> list[Wait]: ...


@dataclass(frozen=True)
class BacklogSource:
    """The queue's history, and each endpoint's ready instances now (the routing table)."""

    queue: WaitReads
    ready_instances: Callable[[str], int]


def is_async_metric(name: str | None) -> bool:
    return name in ASYNC_METRICS


def unit_of(name: str) -> str:
    return UNITS.get(name, "None")


def endpoint_of(namespace: str | None, dimensions: Sequence[Mapping[str, Any]] | None) -> str:
    """The EndpointName of an async metric; InvalidParameterValue for other dimensions."""
    if namespace != NAMESPACE:
        raise invalid_parameter(f"The asynchronous inference metrics are in {NAMESPACE}.")
    given = {d["Name"]: d["Value"] for d in dimensions or ()}
    if set(given) != {ENDPOINT}:
        raise invalid_parameter(
            f"The asynchronous inference metrics have one dimension, {ENDPOINT}."
        )
    return str(given[ENDPOINT])


def check_statistic(name: str) -> None:
    if name not in SIMPLE:
        raise invalid_parameter(
            f"Statistic {name} is not kept for asynchronous inference metrics: use one of "
            f"{', '.join(SIMPLE)}."
        )


async def datapoints(
    source: BacklogSource | None, metric: str, endpoint: str, starts: Sequence[float], period: int
) -> list[dict[str, float] | None]:
    """Each period's statistics (None: no request waited in it), read off the event loop."""
    if source is None or not starts:
        return [None] * len(starts)
    instances = source.ready_instances(endpoint)

    def compute() -> list[dict[str, float] | None]:
        waits = source.queue.waits(endpoint, starts[0], starts[-1] + period)
        return [statistics(waits, metric, start, period, instances) for start in starts]

    return await asyncio.to_thread(compute)
