"""The native REST API's view of the installation: nodes and the controller (/api/v1/nodes)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from turnout.domain.nodes import InstanceReport, Node
from turnout.service import ControlPlane, Installation


class NodeInstanceOut(BaseModel):
    id: str
    endpoint: str
    config: str
    variant: str
    state: str
    address: str
    pid: int | None
    restarts: int
    last_error: str | None

    @classmethod
    def of(cls, i: InstanceReport) -> NodeInstanceOut:
        return cls(
            id=i.id,
            endpoint=i.endpoint,
            config=i.fleet,
            variant=i.variant,
            state=i.state,
            address=i.address,
            pid=i.pid,
            restarts=i.restarts,
            last_error=i.last_error,
        )


class NodeOut(BaseModel):
    name: str
    url: str
    backend: str
    alive: bool = Field(description="Reported within the lease time.")
    controller: bool = Field(description="Holds the controller lease.")
    started_at: float
    heartbeat_at: float
    applied: dict[str, int] = Field(description="Endpoint -> routing plan version in effect.")
    instances: list[NodeInstanceOut]

    @classmethod
    def of(cls, node: Node, installation: Installation) -> NodeOut:
        return cls(
            name=node.name,
            url=node.url,
            backend=node.backend,
            alive=installation.alive(node),
            controller=installation.controller_holder == node.name,
            started_at=node.started_at,
            heartbeat_at=node.heartbeat_at,
            applied=dict(node.report.applied),
            instances=[NodeInstanceOut.of(i) for i in node.report.instances],
        )


class ControllerOut(BaseModel):
    holder: str
    acquired_at: float
    expires_at: float


class InstallationOut(BaseModel):
    controller: ControllerOut | None = Field(
        description="The node running the controller (None: the lease lapsed, a node takes "
        "it within a second)."
    )
    nodes: list[NodeOut]


def node_routes(control: ControlPlane) -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/nodes", tags=["nodes"])
    def list_nodes() -> InstallationOut:
        """Every `turnout serve` process sharing this store, its instances and the plan
        versions it applied, and which one runs the controller."""
        installation = control.installation()
        lease = installation.controller
        holder = installation.controller_holder
        return InstallationOut(
            controller=ControllerOut(
                holder=holder, acquired_at=lease.acquired_at, expires_at=lease.expires_at
            )
            if lease is not None and holder is not None
            else None,
            nodes=[NodeOut.of(n, installation) for n in installation.nodes],
        )

    return api
