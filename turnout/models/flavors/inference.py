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

from turnout.models.codecs import sagemaker as codecs
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.flavors.sklearn import find_model_file, load_model_file
from turnout.models.layout import CODE_DIR, script_name
from turnout.models.predictor import Prediction

DEFAULT_ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
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


class InferencePredictor:
    """Runs a loaded model through the toolkit's handler chain."""

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

    def _default_model(self) -> Any:
        try:
            path = find_model_file(Path(self.model_dir))
        except ModelLoadError as err:
            raise ModelLoadError(f"{CODE_DIR}/ defines no model_fn and {err}") from None
        return load_model_file(path)

    @classmethod
    def load(cls, model_dir: Path, environment: Mapping[str, str]) -> InferencePredictor:
        script = model_dir / CODE_DIR / script_name(environment)
        if not script.is_file():
            raise ModelLoadError(f"{CODE_DIR}/{script.name} does not exist in {model_dir}")
        return cls(_import_script(script), model_dir, environment)

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
    ) -> Prediction:
        content_type = content_type or codecs.JSON
        if not accept or accept == "*/*":
            accept = self.default_accept
        context = (
            Context(self.model_dir, content_type, accept, custom_attributes)
            if self._wants_context
            else None
        )
        if self._transform is not None:
            return self._transform_request(body, content_type, accept, context)
        if self._output is None:
            codecs.negotiate(accept)  # a 406 should not cost a predict
        data = self._decode(body, content_type, context)
        try:
            if self._predict is None:
                assert self._default_predict is not None
                prediction = self._default_predict(data)
            elif self._predict_ctx:
                prediction = self._predict(data, self.model, context)
            else:
                prediction = self._predict(data, self.model)
            if self._output is None:
                payload, media = codecs.encode(prediction, accept)
                return Prediction(payload, media, _attributes(context))
            if self._output_ctx:
                result = self._output(prediction, accept, context)
            else:
                result = self._output(prediction, accept)
        except Exception as err:
            raise InvocationError(*_error_status(err, 500)) from None
        return self._answer(result, accept, context, "output_fn")

    def _transform_request(
        self, body: bytes, content_type: str, accept: str, context: Context | None
    ) -> Prediction:
        assert self._transform is not None
        try:
            args = (self.model, self._text(body, content_type), content_type, accept)
            if self._transform_ctx:
                result = self._transform(*args, context)
            else:
                result = self._transform(*args)
        except Exception as err:
            raise InvocationError(*_error_status(err, 500)) from None
        return self._answer(result, accept, context, "transform_fn")

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


def _attributes(context: Context | None) -> str | None:
    return context.response_custom_attributes if context is not None else None
