"""An instance's Open Inference Protocol v2 routes (KServe / Triton), beside /invocations.

    GET  /v2/health/live | /v2/health/ready     200 once the model is loaded
    GET  /v2/models/{name}[/versions/{v}]       the model's metadata
    GET  /v2/models/{name}[/versions/{v}]/ready 200
    POST /v2/models/{name}[/versions/{v}]/infer tensors in, tensors out

The router forwards each endpoint's calls here with the endpoint as `name` and the variant
as the version, and the answer names them back; the instance serves one model whatever the
name. Tensors reach the model through its flavor's tensor codec and the same batcher as
SageMaker invocations, so both protocols' requests share batches. Errors are the protocol's
`{"error": "..."}` with 400 (the request), 404 (the path), 500 (the model).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from turnout.instances.batcher import Batcher
from turnout.models.codecs import v2
from turnout.models.codecs.v2_paths import Route
from turnout.models.errors import InvocationError
from turnout.models.runtime import LoadedModel, TensorSpec

HEADER_LENGTH = v2.HEADER_LENGTH.lower().encode()
_ENCODINGS = {b"gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    header_length: int | None = None
    batch_size: int = 0


def error(status: int, message: str) -> Reply:
    return Reply(status, v2.encode_error(message))


def decompress(body: bytes, encoding: bytes, limit: int) -> bytes:
    """A gzip or deflate body (tritonclient compresses on request), at most `limit` bytes
    once inflated; InvocationError otherwise."""
    wbits = _ENCODINGS.get(encoding.strip().lower())
    if wbits is None:
        raise InvocationError(415, f"Content-Encoding {encoding.decode('latin-1')!r}: use gzip")
    inflater = zlib.decompressobj(wbits)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as err:
        raise InvocationError(400, f"the compressed body is damaged: {err}") from None
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise InvocationError(413, f"the body is larger than {limit} bytes once decompressed")
    return inflated


class OpenInference:
    """The /v2 routes of one loaded model."""

    __slots__ = ("_batcher", "_metadata", "_model")

    def __init__(self, model: LoadedModel, batcher: Batcher) -> None:
        self._model = model
        self._batcher = batcher
        self._metadata = {
            "platform": model.platform,
            "inputs": [_spec(s) for s in model.inputs],
            "outputs": [_spec(s) for s in model.outputs],
        }

    def metadata(self, route: Route) -> Reply:
        versions = [route.version] if route.version else []
        document = {"name": route.name, "versions": versions, **self._metadata}
        return Reply(200, json.dumps(document).encode())

    async def infer(self, route: Route, body: bytes, header_length: int | None) -> Reply:
        tensors = self._model.tensors
        if tensors is None:
            return error(
                400,
                "this model's flavor takes SageMaker invocations only "
                "(POST /endpoints/{name}/invocations), not tensors",
            )
        try:
            request = v2.decode_request(body, header_length)
            inputs = tensors.inputs({t.name: t.data for t in request.inputs})
            outputs, batch_size = await self._batcher.predict(inputs)
            selected = request.select(tensors.outputs(outputs))
            answer, length = v2.encode_response(
                route.name, route.version, request.id, selected, binary=request.wants_binary
            )
        except (v2.V2Error, InvocationError) as err:
            return error(err.status, err.message)
        except (Exception, SystemExit) as err:  # a request must never take the worker down
            return error(500, f"{type(err).__name__}: {err}")
        return Reply(200, answer, length, batch_size)


def _spec(spec: TensorSpec) -> dict[str, object]:
    return {"name": spec.name, "datatype": spec.datatype, "shape": list(spec.shape)}
