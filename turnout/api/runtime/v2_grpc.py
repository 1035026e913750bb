"""The Open Inference Protocol over gRPC: a grpc.aio server in front of a `V2Service`.

Each RPC becomes a call of the service in the REST protocol's shapes (v2_messages.py does
the translation), so REST and gRPC share one data path. The server runs on the caller's
event loop, uvloop included (ADR 0015); the service is called only there. gRPC metadata
become headers, so sticky routing (`x-turnout-user`) works as over HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import NoReturn, TypeVar

import grpc

from turnout.api.auth import basic_credentials_ok
from turnout.api.runtime import v2_messages
from turnout.api.runtime.v2_proto import grpc_predict_v2_pb2 as pb
from turnout.api.runtime.v2_proto import grpc_predict_v2_pb2_grpc as pb_grpc
from turnout.api.runtime.v2_service import Headers, V2Service
from turnout.models.codecs.v2 import (
    DEFAULT_MAX_ELEMENTS,
    V2Error,
    decode_error,
    decode_response,
    encode_request,
)
from turnout.settings import MAX_PAYLOAD_BYTES

log = logging.getLogger("turnout.api.runtime.v2_grpc")

# A message carries the tensors of a body the REST side accepts, plus protobuf's framing.
DEFAULT_MAX_MESSAGE_BYTES = MAX_PAYLOAD_BYTES + 64 * 1024

_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    503: grpc.StatusCode.UNAVAILABLE,
}
T = TypeVar("T")
R = TypeVar("R")


class _BasicAuth(grpc.aio.ServerInterceptor):
    """Lets through only calls whose `authorization` metadata is HTTP Basic with a known
    key id and its secret (a gRPC client cannot sign SigV4; TLS is the deployer's)."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._secrets = dict(secrets)

        async def deny(request: object, context: grpc.aio.ServicerContext) -> None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "turnout serve has credentials: send metadata authorization: "
                "Basic base64(<access key id>:<secret>)",
            )

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        metadata = handler_call_details.invocation_metadata or ()
        header = next((v for k, v in metadata if k.lower() == "authorization"), "")
        raw = header if isinstance(header, bytes) else header.encode("latin-1", "replace")
        if basic_credentials_ok(raw, self._secrets):
            return await continuation(handler_call_details)
        return self._deny


def status_code(status: int) -> grpc.StatusCode:
    """The gRPC code for an HTTP status: 400, 404 and 503 have their own, the rest INTERNAL."""
    return _CODES.get(status, grpc.StatusCode.INTERNAL)


def headers_of(metadata: Iterable[tuple[str, str | bytes]] | None) -> Headers:
    """gRPC metadata as ASGI-style headers; gRPC's own (`grpc-*`, `:path`...) are left out."""
    headers: Headers = []
    for key, value in metadata or ():
        name = key.lower()
        if name.startswith((":", "grpc-")):
            continue
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        headers.append((name.encode("ascii", "replace"), raw))
    return headers


class V2Servicer(pb_grpc.GRPCInferenceServiceServicer):
    """Answers each RPC by asking the service; its errors become gRPC status codes."""

    def __init__(self, service: V2Service, *, max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        self._service = service
        self._max_elements = max_elements

    async def ServerLive(
        self, request: pb.ServerLiveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerLiveResponse:
        live = await self._ask(context, self._service.live(), bool)
        return pb.ServerLiveResponse(live=live)

    async def ServerReady(
        self, request: pb.ServerReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerReadyResponse:
        ready = await self._ask(context, self._service.ready(), bool)
        return pb.ServerReadyResponse(ready=ready)

    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelReadyResponse:
        call = self._service.model_ready(request.name, request.version or None)
        return pb.ModelReadyResponse(ready=await self._ask(context, call, bool))

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerMetadataResponse:
        call = self._service.server_metadata()
        return await self._ask(context, call, v2_messages.server_metadata)

    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelMetadataResponse:
        call = self._service.model_metadata(request.name, request.version or None)
        return await self._ask(context, call, v2_messages.model_metadata)

    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        call = self._infer(request, headers_of(context.invocation_metadata()))
        return await self._ask(context, call, _same)

    async def _infer(
        self, request: pb.ModelInferRequest, headers: Headers
    ) -> pb.ModelInferResponse:
        """gRPC -> REST body -> the service -> REST body -> gRPC; V2Error on any problem."""
        infer_request = v2_messages.infer_request(request, max_elements=self._max_elements)
        body, header_length = encode_request(infer_request)
        reply = await self._service.infer(
            request.model_name, request.model_version or None, headers, body, header_length
        )
        if reply.status != 200:
            raise V2Error(reply.status, decode_error(reply.body))
        response = decode_response(reply.body, reply.header_length, max_elements=self._max_elements)
        return v2_messages.infer_response(response)

    async def _ask(
        self, context: grpc.aio.ServicerContext, call: Awaitable[T], convert: Callable[[T], R]
    ) -> R:
        """Await the service and convert its answer; a V2Error keeps its status, anything
        else is INTERNAL (and logged: it is a bug)."""
        try:
            return convert(await call)
        except V2Error as err:
            await _abort(context, err.status, err.message)
        except Exception:
            log.exception("the v2 service failed")
            await _abort(context, 500, "internal error; the server's log has the details")


def _same(value: T) -> T:
    return value


async def _abort(context: grpc.aio.ServicerContext, status: int, message: str) -> NoReturn:
    await context.abort(status_code(status), message)
    raise AssertionError("context.abort returned")  # it raises; this tells mypy


class GrpcServer:
    """A running v2 gRPC server; `port` is the one bound (useful when asked for port 0)."""

    def __init__(self, server: grpc.aio.Server, host: str, port: int) -> None:
        self._server = server
        self.host = host
        self.port = port

    async def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls, let calls in flight finish for up to `grace` s, then cancel them."""
        await self._server.stop(grace)


async def start_grpc_server(
    service: V2Service,
    host: str,
    port: int,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    max_concurrent_rpcs: int | None = None,
    credentials: Mapping[str, str] | None = None,
) -> GrpcServer:
    """Serve `service` over gRPC on host:port from the running event loop.

    Messages above `max_message_bytes` are refused (RESOURCE_EXHAUSTED) before the service
    sees them. With `credentials` (access key id -> secret, as `turnout serve
    --credentials`), every call must carry `authorization: Basic base64(id:secret)`
    metadata, else UNAUTHENTICATED. OSError when the address cannot be bound.
    """
    server = grpc.aio.server(
        interceptors=[_BasicAuth(credentials)] if credentials else None,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            # gRPC sets SO_REUSEPORT by default: a second server on the same port would
            # silently share its traffic instead of failing to start.
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=max_concurrent_rpcs,
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(
        V2Servicer(service, max_elements=max_elements), server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as err:  # grpc raises RuntimeError("Failed to bind to address ...")
        raise OSError(f"cannot serve gRPC on {address}: {err}") from None
    if bound == 0:  # older grpc versions answer 0 instead of raising
        raise OSError(f"cannot serve gRPC on {address}: the address is in use or not local")
    await server.start()
    return GrpcServer(server, host, bound)
