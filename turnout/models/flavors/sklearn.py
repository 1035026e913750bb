"""The scikit-learn flavor: a joblib/pickle file at the artifact root, one method per batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from turnout.models.codecs.sagemaker import ArrayBodies
from turnout.models.codecs.tensors import RowTensors
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.layout import MODEL_FILE_SUFFIXES, Listing, model_files, pick_model_file
from turnout.models.registry import Flavor, register
from turnout.models.runtime import LoadedModel, TensorSpec

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


class SklearnModel:
    """One estimator method, called on a batch of rows."""

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

    def predict(self, batch: Any) -> Any:
        try:
            return self._method(batch)
        except ValueError as err:  # sklearn's input validation: wrong shape, NaN, ...
            raise InvocationError(400, str(err)) from None
        except Exception as err:
            raise InvocationError(500, f"{type(err).__name__}: {err}") from None

    def signature(self) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
        """Inputs and outputs as the estimator tells them (features seen in fit, classes)."""
        features = getattr(self.estimator, "n_features_in_", -1)
        inputs = (TensorSpec("input-0", "FP64", (-1, int(features))),)
        classes = getattr(self.estimator, "classes_", None)
        if self.method_name == "predict" and classes is not None:
            kind = np.asarray(classes).dtype.kind
            datatype = {"i": "INT64", "u": "UINT64", "b": "BOOL", "f": "FP64"}.get(kind, "BYTES")
            return inputs, (TensorSpec(self.method_name, datatype, (-1,)),)
        return inputs, (TensorSpec(self.method_name, "FP64", (-1, -1)),)


def load(model_dir: Path, environment: Mapping[str, str]) -> LoadedModel:
    method_name = environment.get(METHOD_VARIABLE, "").strip() or "predict"
    if method_name not in METHODS:  # checked before the (possibly slow) load
        raise ModelLoadError(
            f"{METHOD_VARIABLE}={method_name!r} is not one of {', '.join(METHODS)}"
        )
    model = SklearnModel(load_model_file(find_model_file(model_dir)), method_name)
    inputs, outputs = model.signature()
    return LoadedModel(
        model, ArrayBodies(), RowTensors(method_name), batchable=True, platform="sklearn",
        inputs=inputs, outputs=outputs,
    )  # fmt: skip


def _detect(listing: Listing, environment: Mapping[str, str]) -> bool:
    return pick_model_file(listing) is not None


def explain_missing(listing: Listing) -> str:
    several = model_files(listing)
    if several:
        return f"has several model files ({', '.join(several)}); name one model.joblib"
    return "has no .joblib/.pkl/.pickle file at its root"


FLAVOR = register(
    Flavor(
        name="sklearn",
        summary="one model.joblib / .pkl / .pickle at the root (scikit-learn or anything "
        "with the chosen method); TURNOUT_SKLEARN_METHOD picks predict (default), "
        "predict_proba, decision_function or transform",
        rank=60,
        detect=_detect,
        explain=lambda listing, environment: explain_missing(listing),
        load=load,
        marker="a .joblib/.pkl file",
        images=("sagemaker-scikit-learn", "turnout/sklearn"),
        batching="yes",
        script_mode=True,
    )
)
