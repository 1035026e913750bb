"""Nodes: the `turnout serve` processes of one installation, as they report themselves.

Every node agent writes a report to the store every second (its heartbeat): the plan version
it has applied for each endpoint and the state of each of its instances. The controller
reads the reports of the live nodes to see whether a plan has taken effect everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InstanceReport:
    endpoint: str
    fleet: str
    variant: str
    index: int
    state: str  # turnout.instances.backend.InstanceState's value
    address: str
    pid: int | None = None
    restarts: int = 0
    last_error: str | None = None

    @property
    def id(self) -> str:
        return f"{self.endpoint}/{self.fleet}/{self.variant}/{self.index}"


@dataclass(frozen=True)
class NodeReport:
    """What a node says of itself; `applied` maps endpoint -> plan version in effect."""

    applied: Mapping[str, int] = field(default_factory=dict)
    instances: tuple[InstanceReport, ...] = ()
    host: str = ""  # where the process runs, and its pid: tells a dead node from a busy name
    pid: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.pid,
            "applied": dict(self.applied),
            "instances": [
                {
                    "endpoint": i.endpoint,
                    "fleet": i.fleet,
                    "variant": i.variant,
                    "index": i.index,
                    "state": i.state,
                    "address": i.address,
                    "pid": i.pid,
                    "restarts": i.restarts,
                    "last_error": i.last_error,
                }
                for i in self.instances
            ],
        }

    @classmethod
    def of_document(cls, doc: Mapping[str, Any]) -> NodeReport:
        return cls(
            {str(k): int(v) for k, v in doc.get("applied", {}).items()},
            tuple(InstanceReport(**i) for i in doc.get("instances", [])),
            str(doc.get("host", "")),
            int(doc.get("pid", 0)),
        )


@dataclass(frozen=True)
class Node:
    name: str
    url: str  # where its APIs and router listen
    backend: str  # local or ray
    started_at: float
    heartbeat_at: float
    report: NodeReport

    def alive(self, now: float, timeout: float) -> bool:
        return now - self.heartbeat_at <= timeout


@dataclass(frozen=True)
class Lease:
    """Who holds a lease (the controller's) and until when."""

    name: str
    holder: str
    acquired_at: float
    expires_at: float
