"""The Open Inference Protocol's REST paths, as the router and the instances both read them.

/v2/health/live, /v2/health/ready, /v2
/v2/models/{name}[/versions/{version}]            metadata
/v2/models/{name}[/versions/{version}]/ready      model readiness
/v2/models/{name}[/versions/{version}]/infer      inference
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    """What a /v2 path asks: `action` is live, ready, server, metadata, model-ready or infer."""

    action: str
    name: str = ""
    version: str | None = None


def parse(path: str) -> Route | None:
    """The route of a /v2 path, None if it is not one of the protocol's."""
    parts = path.strip("/").split("/")
    if parts == ["v2"]:
        return Route("server")
    if parts == ["v2", "health", "live"]:
        return Route("live")
    if parts == ["v2", "health", "ready"]:
        return Route("ready")
    if len(parts) < 3 or parts[:2] != ["v2", "models"] or not parts[2]:
        return None
    name, rest = parts[2], parts[3:]
    version = None
    if len(rest) >= 2 and rest[0] == "versions" and rest[1]:
        version, rest = rest[1], rest[2:]
    if not rest:
        return Route("metadata", name, version)
    if rest == ["ready"]:
        return Route("model-ready", name, version)
    if rest == ["infer"]:
        return Route("infer", name, version)
    return None


def infer_path(name: str, version: str) -> bytes:
    """Where an instance takes `version` of model `name`'s inferences."""
    return f"/v2/models/{name}/versions/{version}/infer".encode()
