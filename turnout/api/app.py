"""The one ASGI app `turnout serve` runs: the data path beside the control plane.

Invocations go straight to the raw runtime handler; everything else goes to the REST API's
framework. Checking one path prefix keeps the framework off the data path entirely.
"""

from __future__ import annotations

from typing import Protocol

from turnout.api.rest import build_rest_app
from turnout.routing.invocations import PREFIX, Invocations, Receive, Scope, Send
from turnout.routing.router import Router
from turnout.service import ControlPlane


class Lifecycle(Protocol):
    router: Router
    control: ControlPlane

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class App:
    def __init__(self, runtime: Lifecycle) -> None:
        self._runtime = runtime
        self._invocations = Invocations(runtime.router)
        self._rest = build_rest_app(runtime.control)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"].startswith(PREFIX):
                await self._invocations(scope, receive, send)
            else:
                await self._rest(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._runtime.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
