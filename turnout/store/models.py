"""Model rows: registered artifacts, soft-deleted so that configs keep their exact model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from turnout.domain.resources import Container, Model
from turnout.errors import AlreadyExists, NotFound
from turnout.store import tags
from turnout.store.schema import models
from turnout.store.unique import insert_unless_name_taken

_live = models.c.deleted_at.is_(None)


def add(conn: Connection, model: Model) -> None:
    values = {
        "name": model.name,
        "artifact": model.artifact,
        "flavor": model.flavor,
        "command": None if model.command is None else list(model.command),
        "environment": dict(model.environment),
        "image": model.image,
        "execution_role_arn": model.execution_role_arn,
        "created_at": model.created_at,
        "mode": model.mode,
        "containers": [_container_json(c) for c in model.containers] or None,
    }
    if insert_unless_name_taken(conn, models, values, live_only=True) is None:
        raise AlreadyExists("model", model.name)


def get(conn: Connection, name: str) -> Model:
    row = conn.execute(sa.select(models).where(models.c.name == name, _live)).one_or_none()
    if row is None:
        raise NotFound("model", name)
    return from_row(row)


def list_live(conn: Connection) -> list[Model]:
    rows = conn.execute(sa.select(models).where(_live).order_by(models.c.created_at, models.c.name))
    return [from_row(row) for row in rows]


def delete(conn: Connection, name: str, *, deleted_at: float) -> None:
    result = conn.execute(
        sa.update(models).where(models.c.name == name, _live).values(deleted_at=deleted_at)
    )
    if result.rowcount == 0:
        raise NotFound("model", name)
    tags.delete(conn, "model", name)


def live_ids(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the live models with these names (absent names are left out)."""
    rows = conn.execute(
        sa.select(models.c.name, models.c.id).where(models.c.name.in_(set(names)), _live)
    )
    return {row.name: row.id for row in rows}


def from_row(row: Row[Any]) -> Model:
    """A Model from a row holding the `models` columns (alone or joined: keyed by Column)."""
    m = row._mapping
    command = m[models.c.command]
    return Model(
        name=m[models.c.name],
        artifact=m[models.c.artifact],
        flavor=m[models.c.flavor],
        command=None if command is None else tuple(command),
        environment=m[models.c.environment],
        image=m[models.c.image],
        execution_role_arn=m[models.c.execution_role_arn],
        created_at=m[models.c.created_at],
        mode=m[models.c.mode],
        containers=tuple(_container_of(c) for c in m[models.c.containers] or ()),
    )


def _container_json(c: Container) -> dict[str, Any]:
    return {
        "artifact": c.artifact,
        "flavor": c.flavor,
        "environment": dict(c.environment),
        "image": c.image,
        "hostname": c.hostname,
    }


def _container_of(value: dict[str, Any]) -> Container:
    return Container(
        artifact=value["artifact"],
        flavor=value["flavor"],
        environment=value.get("environment") or {},
        image=value.get("image"),
        hostname=value.get("hostname"),
    )
