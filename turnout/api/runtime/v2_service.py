"""What the Open Inference Protocol's adapters (REST, gRPC) ask of the data path.

The interface speaks the REST protocol's shapes, so the REST adapter passes requests through
and the gRPC adapter translates to them: metadata are the REST JSON objects, an inference is
a REST body (JSON, or JSON + binary tensor data) in and out. Problems are raised as
`V2Error(status, message)` with the HTTP status a REST answer would carry (404 unknown model,
503 not ready, ...); `infer` instead answers a `V2Reply` with that status and an error body,
as an instance's answer arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# (lower-case name, value) pairs, as ASGI carries headers.
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class V2Reply:
    """An inference answer as REST carries it: a body and, when it has binary data, the
    length of its JSON header (`Inference-Header-Content-Length`). An error is a status
    other than 200 with an `{"error": "..."}` body."""

    status: int
    body: bytes
    header_length: int | None = None


class V2Service(Protocol):
    """The data path behind the protocol. `version` None means: the server picks."""

    async def live(self) -> bool:
        """Whether the server answers at all."""
        ...

    async def ready(self) -> bool:
        """Whether the server is ready for inference."""
        ...

    async def server_metadata(self) -> dict[str, Any]:
        """`{"name": str, "version": str, "extensions": [str, ...]}`."""
        ...

    async def model_ready(self, name: str, version: str | None) -> bool:
        """Whether the model (version) is ready; False for one that does not exist."""
        ...

    async def model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        """`{"name", "versions": [str], "platform", "inputs": [{"name", "datatype",
        "shape": [int]}], "outputs": [...]}`; V2Error(404) for an unknown model."""
        ...

    async def infer(
        self,
        name: str,
        version: str | None,
        headers: Headers,
        body: bytes,
        header_length: int | None,
    ) -> V2Reply:
        """One inference; `headers` carry what routing reads (e.g. `x-turnout-user`)."""
        ...
