"""Tags of models, endpoint configs and endpoints: ordered key/value pairs per resource."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.errors import InvalidRequest
from turnout.store.schema import tags

KINDS = ("model", "endpoint config", "endpoint")  # the words of turnout.errors.NotFound


def add(
    conn: Connection, kind: str, name: str, pairs: Sequence[tuple[str, str]], *, limit: int
) -> None:
    """Add tags; a key the resource has already gets the new value, in its old place.

    InvalidRequest (nothing written) if the resource would end up with more than `limit`.
    """
    where = (tags.c.kind == kind, tags.c.name == name)
    have = {row.key for row in conn.execute(sa.select(tags.c.key).where(*where))}
    wanted = dict(pairs)
    if len(have | set(wanted)) > limit:
        raise InvalidRequest(
            f"The {kind} {name} would have {len(have | set(wanted))} tags; "
            f"at most {limit} are allowed. Delete some first."
        )
    position = conn.execute(sa.select(sa.func.max(tags.c.position)).where(*where)).scalar() or 0
    for key, value in wanted.items():
        if key in have:
            conn.execute(sa.update(tags).where(*where, tags.c.key == key).values(value=value))
        else:
            position += 1
            conn.execute(
                sa.insert(tags).values(
                    kind=kind, name=name, key=key, value=value, position=position
                )
            )


def list_(conn: Connection, kind: str, name: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        sa.select(tags.c.key, tags.c.value)
        .where(tags.c.kind == kind, tags.c.name == name)
        .order_by(tags.c.position)
    )
    return [(row.key, row.value) for row in rows]


def delete(conn: Connection, kind: str, name: str, keys: Iterable[str] | None = None) -> None:
    """Delete the tags with these keys (absent keys are no error); None: all of them."""
    stmt = sa.delete(tags).where(tags.c.kind == kind, tags.c.name == name)
    if keys is not None:
        stmt = stmt.where(tags.c.key.in_(set(keys)))
    conn.execute(stmt)
