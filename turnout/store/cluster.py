"""The scale-out side of the store: routing plans, node reports, leases, change notices.

One transaction per method, like `turnout.store.Store`. On PostgreSQL a write that others
must act on also sends a notice (NOTIFY, delivered at commit) on one of `Channel`'s
channels; `turnout.store.notices` listens. SQLite has no notices: readers poll.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from turnout.domain.nodes import Lease, Node, NodeReport
from turnout.domain.plans import RoutingPlan
from turnout.store import Store
from turnout.store.schema import leases, nodes, routing_plans

CONTROLLER = "controller"  # the lease's name


class Channel(StrEnum):
    PLANS = "turnout_plans"  # a plan changed (payload: endpoint); node agents apply it
    NODES = "turnout_nodes"  # a node reported (payload: node); the controller looks
    CHANGES = "turnout_changes"  # desired state changed (payload: endpoint); the controller


class ClusterStore:
    def __init__(self, store: Store) -> None:
        self._db = store.database

    @property
    def shared(self) -> bool:
        """Whether several processes may share this store (PostgreSQL), its writes sending
        notices; else (SQLite) one process owns it and nobody listens."""
        return self._db.dialect == "postgresql"

    # --- plans ------------------------------------------------------------------------
    def plan(self, endpoint: str) -> RoutingPlan | None:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(routing_plans).where(routing_plans.c.endpoint == endpoint)
            ).first()
        return None if row is None else RoutingPlan.of_document(endpoint, row.version, row.document)

    def plan_versions(self) -> dict[str, int]:
        """Every planned endpoint's newest version (what agents poll)."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(routing_plans.c.endpoint, routing_plans.c.version))
            return {row.endpoint: row.version for row in rows}

    def write_plan(self, plan: RoutingPlan, at: float) -> RoutingPlan | None:
        """Store `plan` as the next version if the stored one is still `plan.version`
        (0: none yet); the stored plan, or None if another write came first."""
        new = RoutingPlan(plan.endpoint, plan.version + 1, plan.fleets, plan.serving)
        values = {"version": new.version, "document": new.document(), "updated_at": at}
        with self._db.write() as conn:
            if plan.version == 0:
                written = _insert_new(conn, routing_plans, {"endpoint": plan.endpoint, **values})
            else:
                result = conn.execute(
                    sa.update(routing_plans)
                    .where(
                        routing_plans.c.endpoint == plan.endpoint,
                        routing_plans.c.version == plan.version,
                    )
                    .values(**values)
                )
                written = result.rowcount == 1
            if written:
                _notify(conn, Channel.PLANS, plan.endpoint)
        return new if written else None

    def delete_plan(self, endpoint: str, version: int) -> bool:
        """Forget the endpoint's plan, if it is still that version."""
        with self._db.write() as conn:
            result = conn.execute(
                sa.delete(routing_plans).where(
                    routing_plans.c.endpoint == endpoint, routing_plans.c.version == version
                )
            )
            _notify(conn, Channel.PLANS, endpoint)
            return result.rowcount == 1

    # --- nodes ------------------------------------------------------------------------
    def report(
        self, name: str, url: str, backend: str, started_at: float, report: NodeReport, at: float
    ) -> None:
        """The node's heartbeat: insert or replace its row."""
        values = {
            "url": url,
            "backend": backend,
            "started_at": started_at,
            "heartbeat_at": at,
            "report": report.document(),
        }
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        stmt = insert(nodes).values(name=name, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[nodes.c.name], set_=values)
        with self._db.write() as conn:
            conn.execute(stmt)
            _notify(conn, Channel.NODES, name)

    def nodes(self) -> list[Node]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(nodes).order_by(nodes.c.name)).all()
        return [
            Node(
                row.name,
                row.url,
                row.backend,
                row.started_at,
                row.heartbeat_at,
                NodeReport.of_document(row.report),
            )
            for row in rows
        ]

    def forget_node(self, name: str, heartbeat_before: float) -> bool:
        """Delete a node that has not reported since `heartbeat_before`."""
        with self._db.write() as conn:
            result = conn.execute(
                sa.delete(nodes).where(
                    nodes.c.name == name, nodes.c.heartbeat_at < heartbeat_before
                )
            )
            return result.rowcount == 1

    # --- leases -----------------------------------------------------------------------
    def acquire(
        self, name: str, holder: str, now: float, ttl: float, *, force: bool = False
    ) -> bool:
        """Take or renew the lease for `ttl` seconds: True if `holder` has it now.

        Compare-and-set: it is taken only when free, expired or already `holder`'s (or
        always, with `force`: a single-process installation takes it over at start).
        """
        with self._db.write() as conn:
            if _insert_new(
                conn,
                leases,
                {"name": name, "holder": holder, "acquired_at": now, "expires_at": now + ttl},
            ):
                return True
            mine = leases.c.holder == holder
            result = conn.execute(
                sa.update(leases)
                .where(
                    leases.c.name == name,
                    sa.or_(mine, leases.c.expires_at < now, sa.literal(force)),
                )
                .values(
                    holder=holder,
                    expires_at=now + ttl,
                    acquired_at=sa.case((mine, leases.c.acquired_at), else_=now),
                )
            )
            return result.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        """Give the lease up at once (a graceful stop): another node takes it at its next try."""
        with self._db.write() as conn:
            conn.execute(sa.delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease(self, name: str) -> Lease | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
        return None if row is None else Lease(row.name, row.holder, row.acquired_at, row.expires_at)

    # --- notices ----------------------------------------------------------------------
    def notify(self, channel: Channel, payload: str) -> None:
        """Send a notice on its own (PostgreSQL; nothing on SQLite)."""
        if not self.shared:
            return
        with self._db.write() as conn:
            _notify(conn, channel, payload)


def _insert_new(conn: Connection, table: sa.Table, values: dict[str, object]) -> bool:
    """Insert unless the primary key is taken; whether a row was inserted."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    key = list(table.primary_key.columns)
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=key)
    # RETURNING, not rowcount: psycopg reports no row count for this INSERT.
    return conn.execute(stmt.returning(key[0])).first() is not None


def _notify(conn: Connection, channel: Channel, payload: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(channel.value, payload)))
