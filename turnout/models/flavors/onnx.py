"""The ONNX flavor: `model.onnx` (or exactly one `*.onnx`) at the root, run by onnxruntime.

The graph's metadata says everything: input and output names, element types and shapes
(symbolic dimensions are -1). One InferenceSession on the CPU, with TURNOUT_ONNX_THREADS
intra-op threads (default 1: the router and the other instances share the cores).

SageMaker bodies: JSON, CSV or .npy rows go to the model's single input, cast to its
element type; a model with several inputs takes a JSON object `{"<input>": [...], ...}`.
The answer is the one output as ArrayBodies writes arrays (JSON, CSV, .npy), or a JSON
object by output name when there are several; TURNOUT_ONNX_OUTPUTS (comma-separated names)
keeps only some, e.g. `label` for a classifier answered in CSV.

Classifiers converted by skl2onnx answer their probabilities as a ZipMap (a list of
{class: probability} maps) unless converted with `options={"zipmap": False}`; turnout turns
a ZipMap into a 2-D float32 array, one column per class in the map's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from turnout.models.codecs import sagemaker as codecs
from turnout.models.codecs.sagemaker import ArrayBodies
from turnout.models.codecs.tensors import datatype
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.frameworks import import_framework, threads
from turnout.models.layout import Listing
from turnout.models.registry import Flavor, register
from turnout.models.runtime import Array, Call, LoadedModel, TensorSpec

NAME = "onnx"
PREFERRED_FILE = "model.onnx"
SUFFIX = ".onnx"
THREADS_VARIABLE = "TURNOUT_ONNX_THREADS"
OUTPUTS_VARIABLE = "TURNOUT_ONNX_OUTPUTS"

# ONNX element type -> the numpy dtype inputs are cast to
_DTYPES: dict[str, Any] = {
    f"tensor({name})": dtype
    for name, dtype in (
        ("float", np.float32), ("double", np.float64), ("float16", np.float16),
        ("int8", np.int8), ("int16", np.int16), ("int32", np.int32), ("int64", np.int64),
        ("uint8", np.uint8), ("uint16", np.uint16), ("uint32", np.uint32),
        ("uint64", np.uint64), ("bool", np.bool_), ("string", np.object_),
    )
}  # fmt: skip
_ZIPMAP_PREFIX = "seq(map("  # skl2onnx's ZipMap: seq(map(int64,tensor(float)))


# -- detection --------------------------------------------------------------------------


def onnx_files(listing: Listing) -> list[str]:
    return [name for name in listing.root_files() if name.lower().endswith(SUFFIX)]


def pick_onnx_file(listing: Listing) -> str | None:
    """model.onnx, else the only .onnx file at the root."""
    candidates = onnx_files(listing)
    if PREFERRED_FILE in candidates:
        return PREFERRED_FILE
    return candidates[0] if len(candidates) == 1 else None


def _detect(listing: Listing, environment: Mapping[str, str]) -> bool:
    return pick_onnx_file(listing) is not None


def _explain(listing: Listing, environment: Mapping[str, str]) -> str:
    several = onnx_files(listing)
    if several:
        return f"has several .onnx files ({', '.join(several)}); name the one to serve model.onnx"
    return "has no .onnx file at its root"


# -- the model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    """One input or output of the graph."""

    name: str
    onnx_type: str
    dims: tuple[int | None, ...]  # None: symbolic or unknown
    dtype: Any  # numpy dtype to cast inputs to; None for non-tensor types

    @classmethod
    def of(cls, node: Any) -> Port:
        shape = node.shape if isinstance(node.shape, list) else []
        dims = tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)
        return cls(node.name, node.type, dims, _DTYPES.get(node.type))

    @property
    def zipmap(self) -> bool:
        return self.onnx_type.startswith(_ZIPMAP_PREFIX)

    def spec(self) -> TensorSpec:
        if self.zipmap:  # turned into rows of class probabilities
            return TensorSpec(self.name, "FP32", (-1, -1))
        kind = "BYTES" if self.dtype is None else datatype(self.dtype)
        return TensorSpec(self.name, kind, tuple(-1 if d is None else d for d in self.dims))

    def fit(self, array: Array, where: str) -> Array:
        """`array` as this input takes it: its element type, a batch axis where it lacks one
        (a flat row for a rank-1 input, flat rows for an image input), static dims checked."""
        if array.dtype != self.dtype:
            try:
                array = array.astype(self.dtype)
            except (ValueError, TypeError):
                raise InvocationError(
                    400, f"{where} for input {self.name!r} must be {self.onnx_type} values"
                ) from None
        rank = len(self.dims)
        if rank == 1 and array.ndim == 2 and 1 in array.shape:
            array = array.reshape(-1)
        elif rank > 2 and array.ndim == 2 and None not in self.dims[1:]:
            width = prod(d for d in self.dims[1:] if d is not None)
            if array.shape[1] == width:
                array = array.reshape(-1, *self.dims[1:])
        if array.ndim != rank and rank:
            raise InvocationError(
                400, f"input {self.name!r} takes {rank}-D tensors of shape {self._shape_text()}; "
                f"{where} has shape {list(array.shape)}"
            )  # fmt: skip
        for axis, (want, got) in enumerate(zip(self.dims, array.shape, strict=False)):
            if axis and want is not None and want != got:
                raise InvocationError(
                    400, f"input {self.name!r} takes shape {self._shape_text()}; "
                    f"{where} has shape {list(array.shape)}"
                )  # fmt: skip
        return array

    def _shape_text(self) -> str:
        return "[" + ", ".join("N" if d is None else str(d) for d in self.dims) + "]"


def _from_json(port: Port, value: object, where: str) -> Array:
    if port.dtype is np.object_:  # strings: keep them, no float parsing
        array = np.array(value, dtype=object)
        return port.fit(array.reshape(1) if array.ndim == 0 else array, where)
    return port.fit(codecs.rows(value, where), where)


def _dense(value: Any) -> Array:
    """An output as an array; a ZipMap (a list of {class: probability}) as 2-D float32."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        classes = list(value[0])
        return np.array([[row[c] for c in classes] for row in value], dtype=np.float32)
    return np.asarray(value)


class OnnxModel:
    """An InferenceSession: `predict` takes one input's array, or a dict by input name."""

    def __init__(
        self, session: Any, outputs: Sequence[str] | None, bad_input: type[Exception]
    ) -> None:
        self.session = session
        self.inputs = tuple(Port.of(node) for node in session.get_inputs())
        every = tuple(Port.of(node) for node in session.get_outputs())
        if outputs:
            names = [p.name for p in every]
            unknown = [name for name in outputs if name not in names]
            if unknown:
                raise ModelLoadError(
                    f"{OUTPUTS_VARIABLE} names {', '.join(unknown)}, which the model does not "
                    f"answer; its outputs are {', '.join(names)}"
                )
            every = tuple(p for p in every if p.name in outputs)
        self.outputs = every
        self._output_names = [p.name for p in every]
        self._bad_input = bad_input
        for port in self.inputs:
            if port.dtype is None:
                raise ModelLoadError(
                    f"input {port.name!r} has type {port.onnx_type}; turnout feeds tensors only"
                )

    def predict(self, batch: Any) -> Any:
        feeds = batch if isinstance(batch, dict) else {self.inputs[0].name: batch}
        try:
            results = self.session.run(self._output_names, feeds)
        except self._bad_input as err:  # wrong shape or type: the caller's
            raise InvocationError(400, _one_line(err)) from None
        except Exception as err:
            raise InvocationError(500, f"{type(err).__name__}: {_one_line(err)}") from None
        if len(results) == 1:
            return _dense(results[0])
        return {
            name: _dense(value) for name, value in zip(self._output_names, results, strict=True)
        }


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


# -- codecs -----------------------------------------------------------------------------


class _Feeds:
    """Named values (tensors, or JSON lists) to the model's inputs, by name."""

    __slots__ = ("inputs",)

    def __init__(self, inputs: tuple[Port, ...]) -> None:
        self.inputs = inputs

    def named(self, values: Mapping[str, object], where: str) -> dict[str, Array]:
        names = [p.name for p in self.inputs]
        missing = [name for name in names if name not in values]
        extra = [name for name in values if name not in names]
        if missing or extra:
            problem = f"lacks {', '.join(missing)}" if missing else f"has {', '.join(extra)}"
            raise InvocationError(
                400, f"{where} {problem}; the model takes inputs {', '.join(names)}"
            )
        arrays = {
            p.name: self._array(p, values[p.name], f"{where}'s {p.name!r}") for p in self.inputs
        }
        lengths = {len(a) if a.ndim else 1 for a in arrays.values()}
        if len(lengths) > 1:
            raise InvocationError(400, f"{where}: the inputs have different numbers of rows")
        return arrays

    @staticmethod
    def _array(port: Port, value: object, where: str) -> Array:
        if isinstance(value, np.ndarray):
            if value.ndim == 0 or value.size == 0:
                raise InvocationError(400, f"{where} must hold at least one row of values")
            return port.fit(
                value.reshape(1, -1) if value.ndim == 1 and len(port.dims) > 1 else value, where
            )
        return _from_json(port, value, where)

    def several(self) -> bool:
        return len(self.inputs) > 1

    def names(self) -> str:
        return ", ".join(p.name for p in self.inputs)


class OnnxBodies(ArrayBodies):
    """ArrayBodies whose rows are cast to the model's input, or a JSON object by input name
    for a model with several inputs."""

    __slots__ = ("_feeds", "_outputs")

    def __init__(self, inputs: tuple[Port, ...], outputs: tuple[Port, ...]) -> None:
        self._feeds = _Feeds(inputs)
        self._outputs = [p.name for p in outputs]

    def decode(self, call: Call) -> Any:
        call.context = codecs.negotiate(call.accept)
        if len(self._outputs) > 1 and call.context != codecs.JSON:  # a 406 costs no predict
            raise InvocationError(
                406, f"the model has several outputs ({', '.join(self._outputs)}); "
                f"{call.context} holds one: accept {codecs.JSON}, or set {OUTPUTS_VARIABLE}"
            )  # fmt: skip
        media = codecs.media_type(call.content_type or codecs.JSON)
        if media == codecs.JSON:
            data = codecs.parse_json(call.body)
            if isinstance(data, dict) and set(data) != {"instances"}:
                return self._fed(self._feeds.named(data, "the JSON object"))
            if self._feeds.several():
                raise InvocationError(400, self._needs_object())
            if isinstance(data, dict):
                data = data["instances"]
            return _from_json(self._feeds.inputs[0], data, "the JSON body")
        array = codecs.decode(call.body, call.content_type)  # 415 for other types
        if self._feeds.several():
            raise InvocationError(400, self._needs_object())
        return self._feeds.inputs[0].fit(array, f"the {media} body")

    def _fed(self, arrays: dict[str, Array]) -> Any:
        return arrays if self._feeds.several() else next(iter(arrays.values()))

    def _needs_object(self) -> str:
        return (
            f"the model takes several inputs ({self._feeds.names()}): send a JSON object "
            '{"<input>": [...], ...} with Content-Type application/json'
        )


class OnnxTensors:
    """Open Inference Protocol tensors by input name (any name, for a single-input model)."""

    __slots__ = ("_feeds", "_output")

    def __init__(self, inputs: tuple[Port, ...], outputs: tuple[Port, ...]) -> None:
        self._feeds = _Feeds(inputs)
        self._output = outputs[0].name

    def inputs(self, tensors: Mapping[str, Array]) -> Any:
        if not self._feeds.several():
            if len(tensors) != 1:
                raise InvocationError(
                    400, f"the model takes one input tensor; the request has {len(tensors)}"
                )
            port = self._feeds.inputs[0]
            return self._feeds.named({port.name: next(iter(tensors.values()))}, "the request")[
                port.name
            ]
        return self._feeds.named(tensors, "the request")

    def outputs(self, outputs: Any) -> dict[str, Array]:
        if isinstance(outputs, dict):
            return {name: np.asarray(value) for name, value in outputs.items()}
        return {self._output: np.asarray(outputs)}


# -- loading ----------------------------------------------------------------------------


def load(model_dir: Path, environment: Mapping[str, str]) -> LoadedModel:
    name = pick_onnx_file(Listing.of_directory(model_dir))
    if name is None:
        raise ModelLoadError(
            f"{model_dir} {_explain(Listing.of_directory(model_dir), environment)}"
        )
    count = threads(environment, THREADS_VARIABLE)
    outputs = [n.strip() for n in environment.get(OUTPUTS_VARIABLE, "").split(",") if n.strip()]
    ort = import_framework("onnxruntime", NAME, "onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = count
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: the instance log is for people
    try:
        session = ort.InferenceSession(
            str(model_dir / name), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:
        raise ModelLoadError(f"cannot load {name}: {_one_line(err)}") from None
    state = import_framework("onnxruntime.capi.onnxruntime_pybind11_state", NAME, "onnxruntime")
    model = OnnxModel(session, outputs, state.InvalidArgument)
    return LoadedModel(
        model,
        OnnxBodies(model.inputs, model.outputs),
        OnnxTensors(model.inputs, model.outputs),
        batchable=True,
        platform="onnxruntime_onnx",
        inputs=tuple(p.spec() for p in model.inputs),
        outputs=tuple(p.spec() for p in model.outputs),
    )


FLAVOR = register(
    Flavor(
        name=NAME,
        summary="model.onnx (or exactly one .onnx file) at the root, run by onnxruntime on "
        "the CPU; TURNOUT_ONNX_THREADS (default 1), TURNOUT_ONNX_OUTPUTS picks outputs",
        rank=30,  # before sklearn: a converted model often sits beside its pickle
        detect=_detect,
        explain=_explain,
        load=load,
        marker="a .onnx file",
        images=("turnout/onnx",),
        batching="yes",
    )
)
