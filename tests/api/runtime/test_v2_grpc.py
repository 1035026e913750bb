"""The v2 gRPC server against tritonclient.grpc, unchanged.

The server runs on a uvloop event loop in a thread of its own, as it does inside
`turnout serve` (uvicorn on uvloop); the service behind it does real tensor math with the
REST codec, so every call crosses gRPC -> REST body -> model -> REST body -> gRPC.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import grpc
import httpx
import numpy as np
import pytest
import uvicorn
import uvloop

from turnout.api.runtime.v2_grpc import GrpcServer, start_grpc_server
from turnout.api.runtime.v2_proto import grpc_predict_v2_pb2 as pb
from turnout.api.runtime.v2_proto import grpc_predict_v2_pb2_grpc as pb_grpc
from turnout.api.runtime.v2_service import Headers, V2Reply
from turnout.models.codecs.v2 import (
    Array,
    V2Error,
    decode_request,
    encode_error,
    encode_response,
)

tritongrpc = pytest.importorskip("tritonclient.grpc")
from tritonclient.utils import InferenceServerException  # noqa: E402

T = TypeVar("T")
VERSIONS = ("1", "2")
METADATA = {
    "name": "double",
    "versions": list(VERSIONS),
    "platform": "turnout_test",
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
    "outputs": [{"name": "x_doubled", "datatype": "FP32", "shape": [-1, 4]}],
}


def doubled(data: Array) -> Array:
    if data.dtype == object:
        return np.vectorize(lambda element: element * 2, otypes=[object])(data)
    if data.dtype == bool:
        return np.logical_not(data)  # BOOL "doubled": flipped, so the answer differs
    return data * 2


class Doubler:
    """A V2Service with models `double` (any datatype) and `fp32` (FP32 only).

    `crash` raises, `warming` is not ready yet; every call records the loop it ran on.
    """

    def __init__(self) -> None:
        self.loops: set[asyncio.AbstractEventLoop] = set()
        self.calls: list[tuple[str, str | None, Headers]] = []

    def _seen(self) -> None:
        self.loops.add(asyncio.get_running_loop())

    async def live(self) -> bool:
        self._seen()
        return True

    async def ready(self) -> bool:
        self._seen()
        return True

    async def server_metadata(self) -> dict[str, Any]:
        self._seen()
        return {"name": "turnout", "version": "0.1.0", "extensions": ["binary_tensor_data"]}

    async def model_ready(self, name: str, version: str | None) -> bool:
        self._seen()
        return name in ("double", "fp32") and version in (None, *VERSIONS)

    async def model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        self._seen()
        if name != "double" or version not in (None, *VERSIONS):
            raise V2Error(404, f"model {name!r} version {version} is not known")
        return METADATA

    async def infer(
        self, name: str, version: str | None, headers: Headers, body: bytes,
        header_length: int | None,
    ) -> V2Reply:  # fmt: skip
        self._seen()
        self.calls.append((name, version, headers))
        if name == "crash":
            raise RuntimeError("the model fell over")
        if name == "warming":
            return V2Reply(503, encode_error("model 'warming' is loading; retry in a moment"))
        if name not in ("double", "fp32") or version not in (None, *VERSIONS):
            return V2Reply(404, encode_error(f"model {name!r} version {version} is not known"))
        try:
            request = decode_request(body, header_length)
            for tensor in request.inputs:
                if name == "fp32" and tensor.datatype != "FP32":
                    raise V2Error(400, f"input {tensor.name!r} must be FP32, not {tensor.datatype}")
            outputs = {f"{t.name}_doubled": doubled(t.data) for t in request.inputs}
            answer, answer_length = encode_response(
                name, version or VERSIONS[-1], request.id, request.select(outputs),
                binary=request.wants_binary,
            )  # fmt: skip
        except V2Error as err:
            return V2Reply(err.status, encode_error(err.message))
        return V2Reply(200, answer, answer_length)


class LoopThread:
    """An event loop (uvloop, like `turnout serve`) running in a thread of its own."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def service() -> Doubler:
    return Doubler()


@pytest.fixture(scope="module")
def server(loop_thread: LoopThread, service: Doubler) -> Iterator[GrpcServer]:
    running = loop_thread.run(start_grpc_server(service, "127.0.0.1", 0))
    yield running
    loop_thread.run(running.stop(grace=1))


@pytest.fixture(scope="module")
def client(server: GrpcServer) -> Iterator[Any]:
    with tritongrpc.InferenceServerClient(f"127.0.0.1:{server.port}") as triton_client:
        yield triton_client


def infer_input(name: str, data: Array, datatype: str | None = None) -> Any:
    item = tritongrpc.InferInput(name, list(data.shape), datatype or _datatype(data))
    item.set_data_from_numpy(data)
    return item


def _datatype(data: Array) -> str:
    from tritonclient.utils import np_to_triton_dtype

    return str(np_to_triton_dtype(data.dtype))


def failure(call: Any, *args: Any, **kwargs: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call(*args, **kwargs)
    return caught.value


# -- health and metadata ----------------------------------------------------------------


def test_health(client: Any) -> None:
    assert client.is_server_live() is True
    assert client.is_server_ready() is True


def test_server_metadata(client: Any) -> None:
    metadata = client.get_server_metadata(as_json=True)
    assert metadata == {
        "name": "turnout", "version": "0.1.0", "extensions": ["binary_tensor_data"],
    }  # fmt: skip


def test_model_ready(client: Any) -> None:
    assert client.is_model_ready("double") is True
    assert client.is_model_ready("double", "2") is True
    assert client.is_model_ready("double", "9") is False
    assert client.is_model_ready("nope") is False


def test_model_metadata(client: Any) -> None:
    metadata = client.get_model_metadata("double", "1")
    assert (metadata.name, list(metadata.versions), metadata.platform) == (
        "double", ["1", "2"], "turnout_test",
    )  # fmt: skip
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("x", "FP32", [-1, 4])
    ]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
        ("x_doubled", "FP32", [-1, 4])
    ]


def test_metadata_of_an_unknown_model_is_not_found(client: Any) -> None:
    error = failure(client.get_model_metadata, "nope")
    assert error.status() == "StatusCode.NOT_FOUND"
    assert error.message() == "model 'nope' version None is not known"


# -- inference --------------------------------------------------------------------------

ARRAYS = {
    "FP32": lambda shape: np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 4,
    "INT64": lambda shape: np.arange(np.prod(shape), dtype=np.int64).reshape(shape) - 2**40,
    "BYTES": lambda shape: np.array(
        [f"é{i}".encode() for i in range(np.prod(shape))], dtype=object
    ).reshape(shape),
    "BOOL": lambda shape: (np.arange(np.prod(shape)) % 3 == 0).reshape(shape),
    "FP16": lambda shape: np.linspace(-2, 2, np.prod(shape), dtype=np.float16).reshape(shape),
}


@pytest.mark.parametrize("shape", [[1, 4], [3, 2]], ids=["1x4", "3x2"])
@pytest.mark.parametrize("datatype", list(ARRAYS))
def test_infer(client: Any, datatype: str, shape: list[int]) -> None:
    data = ARRAYS[datatype](shape)
    result = client.infer("double", [infer_input("x", data, datatype)], request_id="req-9")
    answer = result.as_numpy("x_doubled")
    assert answer.shape == tuple(shape)
    assert answer.dtype == data.dtype
    assert answer.tolist() == doubled(data).tolist()
    response = result.get_response()
    assert (response.model_name, response.model_version, response.id) == ("double", "2", "req-9")
    assert response.outputs[0].datatype == datatype


def test_infer_naming_a_version(client: Any, service: Doubler) -> None:
    data = np.ones((1, 4), np.float32)
    result = client.infer("double", [infer_input("x", data)], model_version="1")
    assert result.get_response().model_version == "1"
    assert service.calls[-1][:2] == ("double", "1")


def test_infer_with_requested_outputs_and_several_inputs(client: Any) -> None:
    a, b = np.ones((2, 2), np.float64), np.array([[7]], np.int32)
    wanted = [tritongrpc.InferRequestedOutput("b_doubled")]
    result = client.infer("double", [infer_input("a", a), infer_input("b", b)], outputs=wanted)
    assert [o.name for o in result.get_response().outputs] == ["b_doubled"]
    assert result.as_numpy("b_doubled").tolist() == [[14]]


def test_metadata_reaches_the_service_as_headers(client: Any, service: Doubler) -> None:
    data = np.ones((1, 4), np.float32)
    client.infer("double", [infer_input("x", data)], headers={"x-turnout-user": "user-42"})
    headers = dict(service.calls[-1][2])
    assert headers[b"x-turnout-user"] == b"user-42"
    assert not any(name.startswith((b":", b"grpc-")) for name in headers)


def test_a_gzip_compressed_request(client: Any) -> None:
    data = np.zeros((64, 4), np.float32)
    result = client.infer("double", [infer_input("x", data)], compression_algorithm="gzip")
    assert result.as_numpy("x_doubled").shape == (64, 4)


def test_the_service_runs_on_the_servers_loop(
    client: Any, service: Doubler, loop_thread: LoopThread
) -> None:
    client.is_server_live()
    assert service.loops == {loop_thread.loop}
    assert isinstance(loop_thread.loop, uvloop.Loop)


# -- errors -----------------------------------------------------------------------------


def test_an_unknown_model_is_not_found(client: Any) -> None:
    error = failure(client.infer, "nope", [infer_input("x", np.ones((1, 4), np.float32))])
    assert error.status() == "StatusCode.NOT_FOUND"
    assert error.message() == "model 'nope' version None is not known"


def test_the_wrong_datatype_is_an_invalid_argument(client: Any) -> None:
    error = failure(client.infer, "fp32", [infer_input("x", np.ones((1, 4), np.int64))])
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert error.message() == "input 'x' must be FP32, not INT64"


def test_a_model_not_ready_is_unavailable(client: Any) -> None:
    error = failure(client.infer, "warming", [infer_input("x", np.ones(1, np.float32))])
    assert error.status() == "StatusCode.UNAVAILABLE"
    assert "retry in a moment" in error.message()


def test_a_failing_service_is_internal_and_says_no_more(client: Any) -> None:
    error = failure(client.infer, "crash", [infer_input("x", np.ones(1, np.float32))])
    assert error.status() == "StatusCode.INTERNAL"
    assert "fell over" not in error.message()


def stub_call(server: GrpcServer, request: pb.ModelInferRequest) -> pb.ModelInferResponse:
    """A call from our own stub, for requests tritonclient would refuse to build."""
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        response: pb.ModelInferResponse = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            request, timeout=10
        )
        return response


def test_raw_contents_of_the_wrong_size_are_an_invalid_argument(server: GrpcServer) -> None:
    request = pb.ModelInferRequest(model_name="double")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 4])
    request.raw_input_contents.append(b"\0" * 15)
    with pytest.raises(grpc.RpcError) as caught:
        stub_call(server, request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == (
        "input 'x' has 15 bytes of binary data, but shape [1, 4] of FP32 needs 16"
    )


def test_typed_contents_work_too(server: GrpcServer) -> None:
    request = pb.ModelInferRequest(model_name="double")
    request.inputs.add(name="x", datatype="INT32", shape=[2]).contents.int_contents.extend([3, -4])
    response = stub_call(server, request)
    assert np.frombuffer(response.raw_output_contents[0], "<i4").tolist() == [6, -8]


def test_a_message_above_the_bound_is_refused(loop_thread: LoopThread, service: Doubler) -> None:
    small = loop_thread.run(start_grpc_server(service, "127.0.0.1", 0, max_message_bytes=64 * 1024))
    try:
        with tritongrpc.InferenceServerClient(f"127.0.0.1:{small.port}") as triton_client:
            fits = np.ones((1, 1000), np.float32)
            assert (
                triton_client.infer("double", [infer_input("x", fits)]).as_numpy("x_doubled")[0, 0]
                == 2
            )
            big = np.ones((1, 20_000), np.float32)
            error = failure(triton_client.infer, "double", [infer_input("x", big)])
            assert error.status() == "StatusCode.RESOURCE_EXHAUSTED"
    finally:
        loop_thread.run(small.stop(grace=1))


def test_a_port_in_use_is_an_oserror(loop_thread: LoopThread, server: GrpcServer) -> None:
    with pytest.raises(OSError, match=f"cannot serve gRPC on 127.0.0.1:{server.port}"):
        loop_thread.run(start_grpc_server(Doubler(), "127.0.0.1", server.port))


def test_a_stopped_server_refuses_calls(loop_thread: LoopThread) -> None:
    running = loop_thread.run(start_grpc_server(Doubler(), "127.0.0.1", 0))
    with tritongrpc.InferenceServerClient(f"127.0.0.1:{running.port}") as triton_client:
        assert triton_client.is_server_live()
        loop_thread.run(running.stop(grace=1))
        error = failure(triton_client.is_server_live, client_timeout=5)
        assert error.status() in ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED")


def test_it_serves_beside_uvicorn_on_the_same_uvloop() -> None:
    """As in `turnout serve`: started from uvicorn's lifespan, gRPC and HTTP calls at once."""
    service = Doubler()
    started: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    started["loop"] = asyncio.get_running_loop()
                    started["grpc"] = await start_grpc_server(service, "127.0.0.1", 0)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await started["grpc"].stop(grace=1)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    http_port = listener.getsockname()[1]
    config = uvicorn.Config(app, loop="uvloop", lifespan="on", log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    errors: list[BaseException] = []

    def grpc_calls() -> None:
        try:
            port = started["grpc"].port
            with tritongrpc.InferenceServerClient(f"127.0.0.1:{port}") as triton_client:
                for size in range(1, 200_000, 20_000):
                    data = np.arange(size, dtype=np.int64).reshape(1, size)
                    result = triton_client.infer("double", [infer_input("x", data)])
                    assert (result.as_numpy("x_doubled") == data * 2).all()
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    def http_calls() -> None:
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
                for _ in range(100):
                    assert http.get("/").text == "ok"
        except BaseException as err:
            errors.append(err)

    try:
        for _ in range(300):
            if web.started:
                break
            time.sleep(0.05)
        assert web.started, "uvicorn did not start"
        workers = [threading.Thread(target=f) for f in (grpc_calls, grpc_calls, http_calls)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert not errors, errors
        assert isinstance(started["loop"], uvloop.Loop)
        assert service.loops == {started["loop"]}
        assert len(service.calls) == 20
    finally:
        web.should_exit = True
        thread.join(timeout=30)
