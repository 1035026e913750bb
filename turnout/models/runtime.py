"""What an instance serves: a loaded model, the codecs that speak for it, how it batches.

A request's way through an instance (DESIGN.md, "Seams" point 2):

    codec.decode(call) -> inputs        per request, in the server (a bad body fails alone)
    model.predict(batch) -> outputs     once for the requests that waited (the batcher stacks)
    codec.encode(call, outputs)         per request, each with its own content type

The model interface is MLServer's size: a flavor loads it once, then `predict(batch)`.
Codecs stay apart from the model: `body` speaks SageMaker's InvokeEndpoint bodies, `tensors`
the Open Inference Protocol's named tensors. A flavor picks both when it loads a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    import numpy as np

Array: TypeAlias = "np.ndarray[Any, Any]"


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer to one request, ready to go on the wire."""

    body: bytes
    content_type: str
    custom_attributes: str | None = None
    # An inference pipeline's per-step µs, for the instance's answer header (ADR 0039).
    pipeline_timings: bytes | None = None


@dataclass(slots=True)
class Call:
    """One SageMaker invocation inside an instance, from decode to encode.

    `context` is the codec's own: what it learns while decoding and needs to encode (the
    negotiated Accept, an inference.py handler's context, ...).
    """

    body: bytes
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    context: Any = None


class Model(Protocol):
    def predict(self, batch: Any) -> Any:
        """Outputs for `batch`: one request's inputs, or several stacked (see batching)."""
        ...


class BodyCodec(Protocol):
    """SageMaker bodies to a model's inputs and its outputs back; raises InvocationError."""

    def decode(self, call: Call) -> Any: ...

    def encode(self, call: Call, outputs: Any) -> Prediction: ...


class TensorCodec(Protocol):
    """Open Inference Protocol tensors (by name, in request order) to a model's inputs and
    its outputs back; raises InvocationError."""

    def inputs(self, tensors: Mapping[str, Array]) -> Any: ...

    def outputs(self, outputs: Any) -> dict[str, Array]: ...


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output in a model's metadata; -1 in `shape` means any size."""

    name: str
    datatype: str  # the protocol's: FP64, INT64, BYTES, ...
    shape: tuple[int, ...]


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to serve, with what the instance needs to know about it.

    `batchable`: `predict` takes several requests' inputs stacked along the first axis and
    answers one row of outputs per row of inputs, so the batcher may stack requests.
    `tensors` is None when the flavor cannot take named tensors (then the instance answers
    Open Inference Protocol calls with an error naming SageMaker's API instead).
    """

    model: Model
    body: BodyCodec
    tensors: TensorCodec | None
    batchable: bool
    platform: str  # the Open Inference Protocol's model metadata `platform`
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()

    def invoke(self, call: Call) -> Prediction:
        """Decode, predict and encode one request alone (no batching)."""
        return self.body.encode(call, self.model.predict(self.body.decode(call)))
