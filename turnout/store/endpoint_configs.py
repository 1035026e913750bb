"""Endpoint config rows and their production variants, each bound to one exact model row."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from turnout.domain.async_inference import AsyncInferenceConfig
from turnout.domain.resources import (
    DataCapture,
    EndpointConfig,
    Fleet,
    Model,
    ProductionVariant,
    ServerlessConfig,
)
from turnout.errors import AlreadyExists, InvalidRequest, NotFound
from turnout.store import models as model_rows
from turnout.store import tags
from turnout.store.schema import endpoint_configs, models, production_variants
from turnout.store.unique import insert_unless_name_taken

_live = endpoint_configs.c.deleted_at.is_(None)


def add(conn: Connection, config: EndpointConfig) -> None:
    declared = (*config.variants, *config.shadow_variants)
    names = [variant.name for variant in declared]
    if len(set(names)) != len(names):
        raise InvalidRequest(f'The variant names of endpoint config "{config.name}" repeat.')
    values = {
        "name": config.name,
        "created_at": config.created_at,
        "data_capture": _capture_row(config.data_capture),
        "async_inference": _async_row(config.async_inference),
    }
    config_id = insert_unless_name_taken(conn, endpoint_configs, values, live_only=True)
    if config_id is None:
        raise AlreadyExists("endpoint config", config.name)
    # The live model of each name now: the config keeps that row even once it is deleted.
    model_ids = model_rows.live_ids(conn, (variant.model_name for variant in declared))
    for variant in declared:
        if variant.model_name not in model_ids:
            raise NotFound("model", variant.model_name)
    if declared:
        conn.execute(
            sa.insert(production_variants),
            [
                {
                    "config_id": config_id,
                    "position": position,
                    "name": variant.name,
                    "model_id": model_ids[variant.model_name],
                    "initial_instance_count": variant.initial_instance_count,
                    "initial_weight": variant.initial_weight,
                    "instance_type": variant.instance_type,
                    "serverless_config": _serverless_row(variant.serverless),
                    "shadow": position >= len(config.variants),
                }
                for position, variant in enumerate(declared)
            ],
        )


def get(conn: Connection, name: str) -> EndpointConfig:
    found = _load(conn, sa.and_(endpoint_configs.c.name == name, _live))
    if not found:
        raise NotFound("endpoint config", name)
    return next(iter(found.values())).config


def list_live(conn: Connection) -> list[EndpointConfig]:
    return [fleet.config for fleet in _load(conn, _live).values()]


def delete(conn: Connection, name: str, *, deleted_at: float) -> None:
    result = conn.execute(
        sa.update(endpoint_configs)
        .where(endpoint_configs.c.name == name, _live)
        .values(deleted_at=deleted_at)
    )
    if result.rowcount == 0:
        raise NotFound("endpoint config", name)
    tags.delete(conn, "endpoint config", name)


def live_id(conn: Connection, name: str) -> int:
    config_id: int | None = conn.execute(
        sa.select(endpoint_configs.c.id).where(endpoint_configs.c.name == name, _live)
    ).scalar_one_or_none()
    if config_id is None:
        raise NotFound("endpoint config", name)
    return config_id


def data_capture(conn: Connection, name: str) -> DataCapture | None:
    """The DataCaptureConfig of the config of that name: the live one, else the newest
    deleted one (an endpoint may still serve a deleted config)."""
    row = _newest(conn, name, endpoint_configs.c.data_capture)
    return None if row is None else _capture(row)


def async_inference(conn: Connection, name: str) -> AsyncInferenceConfig | None:
    """The AsyncInferenceConfig of the config of that name (live, else the newest deleted)."""
    row = _newest(conn, name, endpoint_configs.c.async_inference)
    return None if row is None else _async(row)


def _newest(conn: Connection, name: str, column: sa.Column[Any]) -> Any:
    """`column` of the config of that name (live, else the newest deleted); None if none,
    or if its value is NULL."""
    return conn.execute(
        sa.select(column)
        .where(endpoint_configs.c.name == name)
        .order_by(endpoint_configs.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def fleets_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, Fleet]:
    """The configs with these ids, deleted or not, resolved to their exact models."""
    return _load(conn, endpoint_configs.c.id.in_(set(ids)))


def _load(conn: Connection, where: sa.ColumnElement[bool]) -> dict[int, Fleet]:
    """Configs matching `where` by id (ordered by created_at, then name), with their models."""
    config_rows = conn.execute(
        sa.select(endpoint_configs)
        .where(where)
        .order_by(endpoint_configs.c.created_at, endpoint_configs.c.name, endpoint_configs.c.id)
    ).all()
    # One query for the variants of all those configs (the same filter, joined).
    variant_rows = conn.execute(
        sa.select(production_variants, models)
        .join(models, production_variants.c.model_id == models.c.id)
        .join(endpoint_configs, production_variants.c.config_id == endpoint_configs.c.id)
        .where(where)
        .order_by(production_variants.c.config_id, production_variants.c.position)
    )
    variants: dict[int, list[tuple[ProductionVariant, Model, bool]]] = defaultdict(list)
    for row in variant_rows:
        variants[row.config_id].append((_variant(row), model_rows.from_row(row), row.shadow))
    return {
        row.id: Fleet(
            config=EndpointConfig(
                name=row.name,
                variants=tuple(v for v, _, shadow in variants[row.id] if not shadow),
                created_at=row.created_at,
                data_capture=_capture(row.data_capture),
                shadow_variants=tuple(v for v, _, shadow in variants[row.id] if shadow),
                async_inference=_async(row.async_inference),
            ),
            models={variant.name: model for variant, model, _ in variants[row.id]},
        )
        for row in config_rows
    }


def _variant(row: Row[Any]) -> ProductionVariant:
    m = row._mapping
    return ProductionVariant(
        name=m[production_variants.c.name],
        model_name=m[models.c.name],
        initial_instance_count=m[production_variants.c.initial_instance_count],
        initial_weight=m[production_variants.c.initial_weight],
        instance_type=m[production_variants.c.instance_type],
        serverless=_serverless(m[production_variants.c.serverless_config]),
    )


def _serverless_row(config: ServerlessConfig | None) -> dict[str, Any] | None:
    return None if config is None else dataclasses.asdict(config)


def _serverless(row: dict[str, Any] | None) -> ServerlessConfig | None:
    return None if row is None else ServerlessConfig(**row)


def _capture_row(capture: DataCapture | None) -> dict[str, Any] | None:
    return None if capture is None else dataclasses.asdict(capture)


def _capture(row: dict[str, Any] | None) -> DataCapture | None:
    if row is None:
        return None
    types = {k: tuple(row[k]) for k in ("csv_content_types", "json_content_types")}
    return DataCapture(**{**row, **types})


def _async_row(config: AsyncInferenceConfig | None) -> dict[str, Any] | None:
    return None if config is None else dataclasses.asdict(config)


def _async(row: dict[str, Any] | None) -> AsyncInferenceConfig | None:
    return None if row is None else AsyncInferenceConfig(**row)
