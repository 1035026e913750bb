"""The scikit-learn flavor: a joblib/pickle file at the artifact root, one method per request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from turnout.models.codecs import sagemaker as codecs
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.layout import MODEL_FILE_SUFFIXES, Listing, model_files, pick_model_file
from turnout.models.predictor import Prediction

METHOD_VARIABLE = "TURNOUT_SKLEARN_METHOD"
METHODS = ("predict", "predict_proba", "decision_function", "transform")


def find_model_file(model_dir: Path) -> Path:
    """The estimator file to load; ModelLoadError says why there is none."""
    listing = Listing.of_directory(model_dir)
    name = pick_model_file(listing)
    if name is not None:
        return model_dir / name
    several = model_files(listing)
    if several:
        raise ModelLoadError(
            f"several model files ({', '.join(several)}); name the one to serve model.joblib"
        )
    raise ModelLoadError(f"no {'/'.join(MODEL_FILE_SUFFIXES)} file at the root of {model_dir}")


def load_model_file(path: Path) -> Any:
    import joblib  # deferred: only this flavor (and default model_fn) needs it

    try:
        return joblib.load(path)
    except Exception as err:  # unpickling can raise anything the pickled classes raise
        raise ModelLoadError(f"cannot load {path.name}: {type(err).__name__}: {err}") from None


class SklearnPredictor:
    """Decode, call one estimator method, encode as the caller accepts."""

    __slots__ = ("_method", "estimator", "method_name")

    def __init__(self, estimator: Any, method_name: str = "predict") -> None:
        if method_name not in METHODS:
            raise ModelLoadError(
                f"{METHOD_VARIABLE}={method_name!r} is not one of {', '.join(METHODS)}"
            )
        method = getattr(estimator, method_name, None)
        if not callable(method):
            raise ModelLoadError(
                f"the model ({type(estimator).__name__}) has no {method_name}(); "
                f"set {METHOD_VARIABLE} to a method it has"
            )
        self.estimator = estimator
        self.method_name = method_name
        self._method: Callable[[Any], Any] = method

    @classmethod
    def load(cls, model_dir: Path, environment: Mapping[str, str]) -> SklearnPredictor:
        method_name = environment.get(METHOD_VARIABLE, "").strip() or "predict"
        if method_name not in METHODS:  # checked before the (possibly slow) load
            raise ModelLoadError(
                f"{METHOD_VARIABLE}={method_name!r} is not one of {', '.join(METHODS)}"
            )
        return cls(load_model_file(find_model_file(model_dir)), method_name)

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
    ) -> Prediction:
        media = codecs.negotiate(accept)  # a 406 should not cost a predict
        features = codecs.decode(body, content_type)
        try:
            result = self._method(features)
        except ValueError as err:  # sklearn's input validation: wrong shape, NaN, ...
            raise InvocationError(400, str(err)) from None
        except Exception as err:
            raise InvocationError(500, f"{type(err).__name__}: {err}") from None
        payload, media = codecs.encode(result, media)
        return Prediction(payload, media)
