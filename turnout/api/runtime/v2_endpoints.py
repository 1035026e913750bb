"""Endpoints as Open Inference Protocol models: the V2Service both v2 adapters call.

A model is an endpoint and a model version is a variant, so an inference without a version
is routed like any invocation (weights, sticky users, targeting rules) and one naming a
version is a TargetVariant. The instance answers in the protocol's shapes; metrics, data
capture and exposures apply exactly as on the SageMaker path because the same dispatcher
carries both.
"""

from __future__ import annotations

import functools
import json
from time import perf_counter
from typing import Any

import turnout
from turnout.api.runtime.v2_service import Headers, V2Reply
from turnout.models.codecs import v2
from turnout.models.codecs.v2_paths import infer_path
from turnout.routing.choice import least_outstanding
from turnout.routing.dispatch import Dispatcher, DispatchError, Failure, Invocation
from turnout.routing.table import EndpointRoute, VariantRoute
from turnout.routing.upstream import request_head

EXTENSIONS = ["binary_tensor_data"]
# Relayed as they came; the JSON header's length is relayed from `infer`'s argument, which
# the gRPC adapter gives without any header.
_RELAYED = {b"content-type": b"Content-Type", b"content-encoding": b"Content-Encoding"}
_HEADER_LENGTH = v2.HEADER_LENGTH.lower().encode()
_STATUS = {
    Failure.NO_ENDPOINT: 404,
    Failure.NO_VARIANT: 404,
    Failure.BAD_KEY: 400,
    Failure.NO_WEIGHT: 503,
    Failure.OVERLOADED: 503,
    Failure.NO_INSTANCE: 503,
    Failure.THROTTLED: 429,
    Failure.TIMEOUT: 504,
    Failure.NO_ANSWER: 502,
}


class EndpointModels:
    """V2Service over the router's table and the dispatcher."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def live(self) -> bool:
        return True

    async def ready(self) -> bool:
        return True

    async def server_metadata(self) -> dict[str, Any]:
        return {"name": "turnout", "version": turnout.__version__, "extensions": EXTENSIONS}

    async def model_ready(self, name: str, version: str | None) -> bool:
        route = self._route(name)
        if route is None:
            return False
        return any(
            u.instance.ready for r in route.routes if version in (None, r.name) for u in r.upstreams
        )

    async def model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        """The chosen variant's metadata, as its instance tells it, named as the endpoint."""
        route = self._route(name)
        if route is None:
            raise v2.V2Error(404, _no_model(name))
        variant = _variant_for_metadata(route, version)
        if variant is None:
            raise v2.V2Error(404, _no_version(route, version or ""))
        upstream = least_outstanding(variant.upstreams, 0)
        if upstream is None:
            raise v2.V2Error(503, f"no instance of {name} version {variant.name} is ready")
        path = f"/v2/models/{name}/versions/{variant.name}".encode()
        head = request_head(0, [], path, method=b"GET")
        timeout = self.dispatcher.router.limits.model_timeout
        try:
            response = await upstream.pool.request(head, b"", timeout)
            document = json.loads(response.body) if response.status == 200 else None
        except Exception as err:  # the instance died, or its answer is not JSON
            raise v2.V2Error(503, f"{name} version {variant.name}: {err}") from None
        if not isinstance(document, dict):
            raise v2.V2Error(
                503, f"{name} version {variant.name} gives no model metadata (not a tensor model)"
            )
        document["name"] = name
        document["versions"] = sorted({r.name for r in route.routes})
        return document

    async def infer(
        self,
        name: str,
        version: str | None,
        headers: Headers,
        body: bytes,
        header_length: int | None,
    ) -> V2Reply:
        started = perf_counter()
        dispatcher = self.dispatcher
        relayed = [(_RELAYED[k], v) for k, v in headers if k in _RELAYED]
        if header_length is not None:
            relayed.append((v2.HEADER_LENGTH.encode(), b"%d" % header_length))
        path = functools.partial(infer_path, name)
        invocation = Invocation(name, version, headers, relayed, body, started, path)
        try:
            dispatcher.admit()
        except DispatchError as error:
            return V2Reply(503, v2.encode_error(error.message))
        try:
            outcome = await dispatcher.dispatch(invocation)
        except DispatchError as error:
            dispatcher.failed(invocation, error)
            return self._reply_of(error, name, version)
        finally:
            dispatcher.release()
        dispatcher.succeeded(invocation, outcome)
        response = outcome.response
        length = response.header(_HEADER_LENGTH)
        return V2Reply(200, response.body, int(length) if length and length.isdigit() else None)

    def _route(self, name: str) -> EndpointRoute | None:
        return self.dispatcher.router.table.endpoints.get(name)

    def _reply_of(self, error: DispatchError, name: str, version: str | None) -> V2Reply:
        failure = error.failure
        if failure is Failure.MODEL_ERROR:
            # The instance answers in the protocol's shape; a command-flavor program may not.
            assert error.response is not None
            return V2Reply(error.status, v2.encode_error(v2.decode_error(error.response.body)))
        message = error.message
        if failure is Failure.NO_ENDPOINT:
            message = _no_model(name)
        elif failure is Failure.NO_VARIANT and (route := self._route(name)) is not None:
            message = _no_version(route, version or "")
        return V2Reply(_STATUS.get(failure, 500), v2.encode_error(message))


def _variant_for_metadata(route: EndpointRoute, version: str | None) -> VariantRoute | None:
    """The named variant, else the one taking the most traffic."""
    if version is not None:
        return route.named(version, 0.5)
    weights = route.weights()
    return max(route.routes, key=lambda r: weights[(r.config, r.name)], default=None)


def _no_model(name: str) -> str:
    return f"model {name} not found: a model is an endpoint, and no endpoint {name} is in service"


def _no_version(route: EndpointRoute, version: str) -> str:
    versions = ", ".join(sorted({r.name for r in route.routes}))
    return f"model {route.name} has no version {version}: its versions (variants) are {versions}"
