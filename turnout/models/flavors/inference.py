"""The inference flavor: SageMaker inference-toolkit handlers in code/inference.py.

Semantics follow sagemaker-inference-toolkit's Transformer:
- `model_fn(model_dir[, context])` loads the model (default: joblib-load the model file).
- Per request, `transform_fn(model, body, content_type, accept[, context])` if defined, else
  `input_fn(body, content_type)` -> `predict_fn(data, model)` -> `output_fn(prediction,
  accept)`, each with an optional trailing `context`, each defaulting when absent.
- A handler takes `context` when it has one more positional parameter than the toolkit
  passes (so `context=None` counts), decided once at load.
- The body reaches input_fn/transform_fn as `str` for JSON and CSV, `bytes` otherwise. A
  missing Content-Type is passed as application/json; a missing or `*/*` Accept as
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default application/json).
- A handler returns bytes, str, or `(body, content_type)`.
- Batching (turnout's, not the toolkit's) is off unless the script sets
  `accepts_batches = True`: then predict_fn must take the stacked input_fn results of
  several requests and answer one row per input row (turnout splits them for output_fn).

`Context` carries the request's headers and lets a handler set the response's
`X-Amzn-SageMaker-Custom-Attributes`: `context.custom_attributes` (or the toolkit's
`context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")`) reads them, and
`context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", value)` answers some.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from turnout.models.codecs import sagemaker as codecs
from turnout.models.errors import ArtifactError, InvocationError, ModelLoadError
from turnout.models.flavors.sklearn import find_model_file, load_model_file
from turnout.models.layout import CODE_DIR, Listing, script_name
from turnout.models.registry import SCRIPT, Flavor, register
from turnout.models.runtime import Array, Call, LoadedModel, Prediction

DEFAULT_ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
# Set to True in the script when predict_fn takes the rows of several requests at once.
BATCH_DECLARATION = "accepts_batches"
CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
_UTF8_TYPES = frozenset((codecs.JSON, codecs.CSV))  # the toolkit hands these over as str

Handler = Callable[..., Any]


class Context:
    """The `context` a handler may take: a small, toolkit-compatible subset."""

    __slots__ = (
        "_accept",
        "_content_type",
        "custom_attributes",
        "model_dir",
        "response_content_type",
        "response_custom_attributes",
        "system_properties",
    )

    def __init__(
        self,
        model_dir: str,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.system_properties = {"model_dir": model_dir, "gpu_id": None}
        self._content_type = content_type
        self._accept = accept
        self.custom_attributes = custom_attributes  # the request's, None if absent
        self.response_custom_attributes: str | None = None
        self.response_content_type: str | None = None

    def get_request_header(self, idx: int, key: str) -> str | None:
        """Content-Type, Accept or X-Amzn-SageMaker-Custom-Attributes (case-insensitive)."""
        name = key.lower()
        if name == "content-type":
            return self._content_type
        if name == "accept":
            return self._accept
        if name == CUSTOM_ATTRIBUTES:
            return self.custom_attributes
        return None

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        """Only X-Amzn-SageMaker-Custom-Attributes and Content-Type reach the caller."""
        name = key.lower()
        if name == CUSTOM_ATTRIBUTES:
            self.response_custom_attributes = value
        elif name == "content-type":
            self.response_content_type = value

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.response_content_type = value


def _takes_context(func: Handler, name: str, arguments: int) -> bool:
    """Whether `func` wants a trailing context, as the toolkit decides it."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: assume no context
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in parameters)
    if len(required) <= arguments + 1 and (len(positional) > arguments or varargs):
        return True
    if len(required) <= arguments <= len(positional):
        return False
    raise ModelLoadError(
        f"{name} takes {len(positional)} arguments; it must take {arguments} "
        "(plus an optional context)"
    )


_registered: set[str] = set()


def _import_script(path: Path) -> ModuleType:
    """Import code/<script> as a top-level module, with code/ on sys.path (like the toolkit)."""
    code_dir = str(path.parent)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    name = path.stem
    if name in sys.modules and name not in _registered:  # never shadow e.g. `json`
        name = f"turnout_handler_{name}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {CODE_DIR}/{path.name}")
    module = importlib.util.module_from_spec(spec)
    # Registered so that pickles referring to classes defined in the script load.
    sys.modules[name] = module
    _registered.add(name)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        del sys.modules[name]
        raise ModelLoadError(
            f"{CODE_DIR}/{path.name} failed to import: {type(err).__name__}: {err}"
        ) from None
    return module


def _error_status(err: BaseException, default: int) -> tuple[int, str]:
    if isinstance(err, InvocationError):
        return err.status, err.message
    # The toolkit's GenericInferenceToolkitError (and look-alikes) carry their own status.
    status = getattr(err, "status_code", None)
    if isinstance(status, int) and 400 <= status < 600:
        return status, str(getattr(err, "message", err))
    if default == 400:
        return 400, str(err) or type(err).__name__
    return default, f"{type(err).__name__}: {err}"


def _to_bytes(result: Any, default_type: str, where: str) -> tuple[bytes, str]:
    if isinstance(result, tuple) and len(result) == 2:
        body, content_type = result
    else:
        body, content_type = result, default_type
    if isinstance(body, bytes):
        return body, str(content_type)
    if isinstance(body, str):
        return body.encode(), str(content_type)
    if isinstance(body, bytearray | memoryview):
        return bytes(body), str(content_type)
    raise InvocationError(
        500, f"{where} returned {type(body).__name__}; return bytes, str or (body, content_type)"
    )


@lru_cache(maxsize=256)
def _response_type(accept: str) -> str:
    """The content type of a custom handler's answer when it does not name one."""
    if "," not in accept and "*" not in accept:
        return accept.partition(";")[0].strip()
    try:
        return codecs.negotiate(accept)
    except InvocationError:  # none of ours: the first concrete type the caller listed
        for part in accept.split(","):
            media = part.partition(";")[0].strip()
            if media and "*" not in media:
                return media
        return codecs.JSON


class _Request:
    """One request's input_fn result and its context, on their way to predict_fn alone."""

    __slots__ = ("context", "data")

    def __init__(self, data: Any, context: Context | None) -> None:
        self.data = data
        self.context = context


class _Raw:
    """A request for transform_fn, which does everything itself."""

    __slots__ = ("accept", "body", "content_type", "context")

    def __init__(
        self, body: bytes | str, content_type: str, accept: str, context: Context | None
    ) -> None:
        self.body = body
        self.content_type = content_type
        self.accept = accept
        self.context = context


class InferenceHandlers:
    """A loaded code/inference.py: the model, and its handlers as model and codec at once.

    input_fn is the decoder, predict_fn the model, output_fn the encoder. With
    `accepts_batches = True` in the script, predict_fn gets the stacked input_fn results of
    several requests (and a context without request headers) and must answer one row per
    input row; otherwise it gets one request's data and context.
    """

    def __init__(self, module: ModuleType, model_dir: Path, environment: Mapping[str, str]):
        self.model_dir = str(model_dir)
        self.default_accept = environment.get(DEFAULT_ACCEPT_VARIABLE) or codecs.JSON
        handlers: dict[str, tuple[int, Handler | None]] = {
            "model_fn": (1, None),
            "transform_fn": (4, None),
            "input_fn": (2, None),
            "predict_fn": (2, None),
            "output_fn": (2, None),
        }
        contexts: dict[str, bool] = {}
        for name, (arguments, _) in list(handlers.items()):
            func = getattr(module, name, None)
            if func is None:
                continue
            if not callable(func):
                raise ModelLoadError(f"{name} in {CODE_DIR}/ is not a function")
            handlers[name] = (arguments, func)
            contexts[name] = _takes_context(func, name, arguments)
        self._transform = handlers["transform_fn"][1]
        self._input = handlers["input_fn"][1]
        self._predict = handlers["predict_fn"][1]
        self._output = handlers["output_fn"][1]
        self._transform_ctx = contexts.get("transform_fn", False)
        self._input_ctx = contexts.get("input_fn", False)
        self._predict_ctx = contexts.get("predict_fn", False)
        self._output_ctx = contexts.get("output_fn", False)
        self._wants_context = any(contexts.get(n) for n in handlers if n != "model_fn")
        declared = getattr(module, BATCH_DECLARATION, False)
        if not isinstance(declared, bool):
            raise ModelLoadError(
                f"{BATCH_DECLARATION} in {CODE_DIR}/ must be True or False, not {declared!r}"
            )
        self.batchable = declared and self._transform is None

        model_fn = handlers["model_fn"][1]
        try:
            if model_fn is None:
                self.model = self._default_model()
            elif contexts["model_fn"]:
                self.model = model_fn(self.model_dir, Context(self.model_dir))
            else:
                self.model = model_fn(self.model_dir)
        except ModelLoadError:
            raise
        except (Exception, SystemExit) as err:
            raise ModelLoadError(f"model_fn failed: {type(err).__name__}: {err}") from None

        self._default_predict: Handler | None = None
        if self._transform is None and self._predict is None:
            predict = getattr(self.model, "predict", None)
            self._default_predict = predict if callable(predict) else None
            if self._default_predict is None and callable(self.model):
                self._default_predict = self.model
            if self._default_predict is None:
                raise ModelLoadError(
                    f"the model ({type(self.model).__name__}) has no predict() and is not "
                    "callable; define predict_fn in code/"
                )

    @property
    def takes_tensors(self) -> bool:
        """Tensors can go straight to predict_fn, unless transform_fn does everything."""
        return self._transform is None

    def _default_model(self) -> Any:
        try:
            path = find_model_file(Path(self.model_dir))
        except ModelLoadError as err:
            raise ModelLoadError(f"{CODE_DIR}/ defines no model_fn and {err}") from None
        return load_model_file(path)

    @classmethod
    def load(cls, model_dir: Path, environment: Mapping[str, str]) -> InferenceHandlers:
        script = model_dir / CODE_DIR / script_name(environment)
        if not script.is_file():
            raise ModelLoadError(f"{CODE_DIR}/{script.name} does not exist in {model_dir}")
        return cls(_import_script(script), model_dir, environment)

    # -- BodyCodec ------------------------------------------------------------------

    def decode(self, call: Call) -> Any:
        content_type = call.content_type or codecs.JSON
        accept = call.accept
        if not accept or accept == "*/*":
            accept = self.default_accept
        context = (
            Context(self.model_dir, content_type, accept, call.custom_attributes)
            if self._wants_context
            else None
        )
        call.context = (accept, context)
        if self._transform is not None:
            return _Raw(self._text(call.body, content_type), content_type, accept, context)
        if self._output is None:
            codecs.negotiate(accept)  # a 406 should not cost a predict
        data = self._decode(call.body, content_type, context)
        return data if self.batchable else _Request(data, context)

    def encode(self, call: Call, outputs: Any) -> Prediction:
        accept, context = call.context
        if self._transform is not None:
            return self._answer(outputs, accept, context, "transform_fn")
        try:
            if self._output is None:
                payload, media = codecs.encode(outputs, accept)
                return Prediction(payload, media, _attributes(context))
            if self._output_ctx:
                result = self._output(outputs, accept, context)
            else:
                result = self._output(outputs, accept)
        except Exception as err:
            raise InvocationError(*_error_status(err, 500)) from None
        return self._answer(result, accept, context, "output_fn")

    # -- Model ----------------------------------------------------------------------

    def predict(self, batch: Any) -> Any:
        if isinstance(batch, _Raw):
            return self._transform_request(batch)
        if isinstance(batch, _Request):
            data, context = batch.data, batch.context
        else:  # stacked rows, or tensors: no one request's headers apply
            data, context = batch, Context(self.model_dir) if self._predict_ctx else None
        try:
            if self._predict is None:
                assert self._default_predict is not None
                return self._default_predict(data)
            if self._predict_ctx:
                return self._predict(data, self.model, context)
            return self._predict(data, self.model)
        except Exception as err:
            raise InvocationError(*_error_status(err, 500)) from None

    def _transform_request(self, raw: _Raw) -> Any:
        assert self._transform is not None
        try:
            args = (self.model, raw.body, raw.content_type, raw.accept)
            if self._transform_ctx:
                return self._transform(*args, raw.context)
            return self._transform(*args)
        except Exception as err:
            raise InvocationError(*_error_status(err, 500)) from None

    def _decode(self, body: bytes, content_type: str, context: Context | None) -> Any:
        """input_fn, or the default codecs; whatever it raises is the caller's fault (400)."""
        try:
            if self._input is None:
                return codecs.decode(body, content_type)
            text = self._text(body, content_type)
            if self._input_ctx:
                return self._input(text, content_type, context)
            return self._input(text, content_type)
        except Exception as err:
            raise InvocationError(*_error_status(err, 400)) from None

    @staticmethod
    def _text(body: bytes, content_type: str) -> bytes | str:
        if codecs.media_type(content_type) not in _UTF8_TYPES:
            return body
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise InvocationError(400, f"the {content_type} body is not UTF-8") from None

    @staticmethod
    def _answer(result: Any, accept: str, context: Context | None, where: str) -> Prediction:
        default_type = (context and context.response_content_type) or _response_type(accept)
        payload, media = _to_bytes(result, default_type, where)
        return Prediction(payload, media, _attributes(context))


class HandlerTensors:
    """Open Inference Protocol tensors straight to predict_fn (input_fn and output_fn speak
    bodies, not tensors): one input tensor is passed as its array, several as a dict."""

    __slots__ = ()

    def inputs(self, tensors: Mapping[str, Array]) -> Any:
        if len(tensors) == 1:
            return next(iter(tensors.values()))
        return dict(tensors)

    def outputs(self, outputs: Any) -> dict[str, Array]:
        if isinstance(outputs, dict):
            return {str(name): np.asarray(value) for name, value in outputs.items()}
        return {"output-0": np.asarray(outputs)}


def load(model_dir: Path, environment: Mapping[str, str]) -> LoadedModel:
    handlers = InferenceHandlers.load(model_dir, environment)
    tensors = HandlerTensors() if handlers.takes_tensors else None
    return LoadedModel(
        handlers, handlers, tensors, batchable=handlers.batchable, platform="sagemaker_inference"
    )


def _detect(listing: Listing, environment: Mapping[str, str]) -> bool:
    script = f"{CODE_DIR}/{script_name(environment)}"
    if script in listing.files:
        return True
    if "SAGEMAKER_PROGRAM" in environment:
        raise ArtifactError(f"SAGEMAKER_PROGRAM names {script}, which the artifact lacks")
    return False


FLAVOR = register(
    Flavor(
        name=SCRIPT,
        summary="code/inference.py with SageMaker inference-toolkit handlers (model_fn, "
        "input_fn, predict_fn, output_fn, or transform_fn); code/requirements.txt is "
        "checked against what is installed and reported, not installed",
        rank=10,
        detect=_detect,
        explain=lambda listing, environment: f"has no {CODE_DIR}/{script_name(environment)}",
        load=load,
        marker=f"{CODE_DIR}/inference.py",
        images=("turnout/inference",),
        batching=f"when the script sets {BATCH_DECLARATION} = True",
    )
)


def _attributes(context: Context | None) -> str | None:
    return context.response_custom_attributes if context is not None else None
