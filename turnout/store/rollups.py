"""Metric rollups: written by each router every period, read by alarms and dashboards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.domain.histogram import LatencyHistogram
from turnout.domain.rollups import ModelCacheWindow, Rollup, VariantKey, Window
from turnout.store.schema import rollups


def add(conn: Connection, batch: Sequence[Rollup], source: str) -> None:
    """Write a router's rollups; writing the same (key, start, source) again replaces it."""
    for rollup in batch:
        key = _primary_key(rollup, source)
        conn.execute(sa.delete(rollups).where(*(rollups.c[k] == v for k, v in key.items())))
        conn.execute(sa.insert(rollups).values(**key, **_values(rollup)))


def list_(
    conn: Connection,
    endpoint: str,
    since: float,
    until: float | None = None,
    variant: str | None = None,
) -> list[Rollup]:
    """Rollups of `endpoint` with since ≤ start < until, oldest first (one per router)."""
    query = sa.select(rollups).where(rollups.c.endpoint == endpoint, rollups.c.start >= since)
    if until is not None:
        query = query.where(rollups.c.start < until)
    if variant is not None:
        query = query.where(rollups.c.variant == variant)
    rows = conn.execute(query.order_by(rollups.c.start, rollups.c.variant, rollups.c.source))
    return [_rollup(row) for row in rows]


def keys(conn: Connection, since: float) -> list[VariantKey]:
    """Every (endpoint, config, variant) with a rollup from `since` on, sorted."""
    query = (
        sa.select(rollups.c.endpoint, rollups.c.config, rollups.c.variant)
        .where(rollups.c.start >= since)
        .distinct()
        .order_by(rollups.c.endpoint, rollups.c.config, rollups.c.variant)
    )
    return [VariantKey(row.endpoint, row.config, row.variant) for row in conn.execute(query)]


def delete_before(conn: Connection, cutoff: float) -> int:
    return conn.execute(sa.delete(rollups).where(rollups.c.start < cutoff)).rowcount


def _primary_key(rollup: Rollup, source: str) -> dict[str, Any]:
    return {
        "endpoint": rollup.key.endpoint,
        "config": rollup.key.config,
        "variant": rollup.key.variant,
        "start": rollup.start,
        "source": source,
    }


def _values(rollup: Rollup) -> dict[str, Any]:
    window = rollup.window
    return {
        "period": rollup.period,
        "instances": rollup.instances,
        "invocations": window.invocations,
        "errors_4xx": window.errors_4xx,
        "errors_5xx": window.errors_5xx,
        "model_errors": window.model_errors,
        "model_latency": _histogram_document(window.model_latency),
        "overhead_latency": _histogram_document(window.overhead_latency),
        "cpu_percent": rollup.cpu_percent,
        "memory_percent": rollup.memory_percent,
        "multi_model": None if window.model_cache is None else _cache_document(window.model_cache),
        "model_setup_time": _histogram_document(window.model_setup)
        if window.model_setup.count
        else None,
    }


def _cache_document(cache: ModelCacheWindow) -> dict[str, Any]:
    return {
        "requests": cache.requests,
        "hits": cache.hits,
        "wait": _histogram_document(cache.wait),
        "download": _histogram_document(cache.download),
        "load": _histogram_document(cache.load),
        "unload": _histogram_document(cache.unload),
        "loaded_models": cache.loaded_models,
    }


def _cache(document: dict[str, Any]) -> ModelCacheWindow:
    cache = ModelCacheWindow()
    cache.requests = int(document.get("requests", 0))
    cache.hits = int(document.get("hits", 0))
    cache.wait = _histogram(document.get("wait", {}))
    cache.download = _histogram(document.get("download", {}))
    cache.load = _histogram(document.get("load", {}))
    cache.unload = _histogram(document.get("unload", {}))
    loaded = document.get("loaded_models")
    cache.loaded_models = None if loaded is None else int(loaded)
    return cache


def _histogram_document(histogram: LatencyHistogram) -> dict[str, Any]:
    return {"buckets": histogram.sparse(), "total": histogram.total, "max": histogram.maximum}


def _histogram(document: dict[str, Any]) -> LatencyHistogram:
    return LatencyHistogram.from_parts(
        document.get("buckets", {}), float(document.get("total", 0)), float(document.get("max", 0))
    )


def _rollup(row: Any) -> Rollup:
    window = Window()
    window.invocations = row.invocations
    window.errors_4xx = row.errors_4xx
    window.errors_5xx = row.errors_5xx
    window.model_errors = row.model_errors
    window.model_latency = _histogram(row.model_latency)
    window.overhead_latency = _histogram(row.overhead_latency)
    if row.multi_model is not None:
        window.model_cache = _cache(row.multi_model)
    if row.model_setup_time is not None:
        window.model_setup = _histogram(row.model_setup_time)
    key = VariantKey(row.endpoint, row.config, row.variant)
    return Rollup(
        key, row.start, row.period, row.instances, window, row.cpu_percent, row.memory_percent
    )
