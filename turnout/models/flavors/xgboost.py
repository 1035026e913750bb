"""The XGBoost flavor: SageMaker's built-in XGBoost algorithm artifacts, served as its
container serves them.

Files: `xgboost-model` at the root (what SageMaker's XGBoost training writes into
model.tar.gz: a Booster saved by `save_model` in 1.3 and later, a pickled Booster before),
or one `*.ubj` / `*.bst` booster file. A `*.json` booster is served only by a model that
names the flavor (or a `sagemaker-xgboost` / `turnout/xgboost` image): a JSON file is too
common for auto-detection to claim. Named explicitly, a lone file without an extension is
the model too (the container loads whatever file it finds).

Bodies in, as the container takes them: `text/csv` (no header, no label column; an empty
cell is a missing value; also the type of a request without Content-Type), `text/libsvm`
and `text/x-libsvm` (`label idx:val ...` per line; absent = missing; indices are 0-based
unless all of a request's are 1 or more, then 1-based, as the current container and XGBoost's
own file reader guess; TURNOUT_XGBOOST_LIBSVM_BASE=0 or 1 fixes it for sparse rows that
may lack feature 0),
plus turnout's `application/x-npy` and `application/json` rows. Rows with fewer values than
the model has features are padded with missing values; more is a 400.
`application/x-recordio-protobuf` is refused with a 415.

Answers: `text/csv` by default (SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT changes it), one line
per row (a multi:softprob row is its class probabilities, comma-separated);
`application/json` is `{"predictions": [{"score": ...}, ...]}`; `application/x-npy` the
array. TURNOUT_XGBOOST_THREADS sets the booster's nthread (default 1, like the container).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from turnout.models.codecs import sagemaker as codecs
from turnout.models.codecs.tensors import RowTensors
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.frameworks import import_framework, threads
from turnout.models.layout import Listing
from turnout.models.registry import Flavor, register
from turnout.models.runtime import Array, Call, LoadedModel, Prediction, TensorSpec

NAME = "xgboost"
SAGEMAKER_FILE = "xgboost-model"
SUFFIXES = (".ubj", ".bst")  # XGBoost's own: safe to claim in auto-detection
EXPLICIT_SUFFIXES = (".json",)  # served only when the model names the flavor
THREADS_VARIABLE = "TURNOUT_XGBOOST_THREADS"
LIBSVM_BASE_VARIABLE = "TURNOUT_XGBOOST_LIBSVM_BASE"
AUTO_BASE = -1
DEFAULT_ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
RECORDIO = "application/x-recordio-protobuf"
ANSWERS = (codecs.CSV, codecs.JSON, codecs.NPY)
_PICKLE_MAGIC = b"\x80"  # pickle protocol 2 and later; Booster files start with "{" or "b"


# -- detection --------------------------------------------------------------------------


def _candidates(listing: Listing, suffixes: tuple[str, ...]) -> list[str]:
    return [name for name in listing.root_files() if name.lower().endswith(suffixes)]


def pick_booster_file(listing: Listing, explicit: bool = False) -> str | None:
    """xgboost-model, else the only booster file (.json, or a lone file without an
    extension, only if explicit)."""
    files = listing.root_files()
    if SAGEMAKER_FILE in files:
        return SAGEMAKER_FILE
    suffixes = SUFFIXES + EXPLICIT_SUFFIXES if explicit else SUFFIXES
    candidates = _candidates(listing, suffixes)
    if len(candidates) == 1:
        return candidates[0]
    visible = [name for name in files if not name.startswith(".")]
    if explicit and not candidates and len(visible) == 1 and "." not in visible[0]:
        return visible[0]
    return None


def _detect(listing: Listing, environment: Mapping[str, str]) -> bool:
    return pick_booster_file(listing) is not None


def _accepts(listing: Listing, environment: Mapping[str, str]) -> bool:
    return pick_booster_file(listing, explicit=True) is not None


def _explain(listing: Listing, environment: Mapping[str, str]) -> str:
    several = _candidates(listing, SUFFIXES + EXPLICIT_SUFFIXES)
    if len(several) > 1:
        return (
            f"has several booster files ({', '.join(several)}); name the one to serve "
            f"{SAGEMAKER_FILE}"
        )
    return f"has no {SAGEMAKER_FILE} file at its root (nor one .ubj, .bst or .json booster file)"


# -- bodies -----------------------------------------------------------------------------


def _text(body: bytes, media: str) -> str:
    try:
        text = body.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise InvocationError(400, f"the {media} body is not UTF-8") from None
    if not text:
        raise InvocationError(400, "the request body is empty")
    return text


def _number(cell: str, where: str) -> float:
    try:
        return float(cell)
    except ValueError:
        raise InvocationError(400, f"{where}: {cell[:40]!r} is not a number") from None


def parse_csv(body: bytes) -> list[list[float]]:
    """CSV rows as the container reads them: no header, empty cells missing (NaN)."""
    lines = [line for line in _text(body, codecs.CSV).splitlines() if line.strip()]
    first = lines[0]
    delimiter = next((d for d in (",", "\t", ";", "|") if d in first), ",")
    table = []
    for number, line in enumerate(lines, 1):
        cells = line.strip().split(delimiter)
        table.append(
            [
                np.nan if not cell.strip() else _number(cell, f"text/csv line {number}")
                for cell in cells
            ]
        )
    width = len(table[0])
    for number, row in enumerate(table, 1):
        if len(row) != width:
            raise InvocationError(
                400, f"text/csv row {number} has {len(row)} values, row 1 has {width}"
            )
    return table


def parse_libsvm(body: bytes, features: int, base: int = AUTO_BASE) -> Any:
    """libsvm lines (`label idx:val ...`, label optional) as a CSR matrix of `features`
    columns; indices start at `base`, or (AUTO_BASE) at 1 when all of them are 1 or more
    (XGBoost's auto-detection), else at 0."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for number, line in enumerate(_text(body, LIBSVM).splitlines(), 1):
        if not line.strip():
            continue
        for token in line.split():
            index, colon, value = token.partition(":")
            if not colon:
                continue  # the label (or a qid): not a feature
            if not index.isdigit():
                raise InvocationError(
                    400, f"libsvm line {number}: {token[:40]!r} is not index:value"
                )
            indices.append(int(index))
            values.append(_number(value, f"libsvm line {number}"))
        indptr.append(len(indices))
    columns = np.array(indices, dtype=np.int64)
    if base == AUTO_BASE:
        base = 1 if len(columns) and columns.min() >= 1 else 0
    if len(columns) and columns.min() < base:
        raise InvocationError(400, f"libsvm feature index 0 with {LIBSVM_BASE_VARIABLE}=1")
    if len(columns) and columns.max() - base >= features:
        raise InvocationError(
            400, f"libsvm feature index {int(columns.max())} is out of range: the model has "
            f"{features} features ({base}-based indices)"
        )  # fmt: skip
    columns -= base
    return csr_matrix(
        (np.array(values, dtype=np.float32), columns, np.array(indptr)),
        shape=(len(indptr) - 1, features),
    )


def _padded(array: Array, features: int, where: str) -> Array:
    """Dense rows with the model's feature count: fewer values are missing ones (NaN)."""
    array = np.asarray(array, dtype=np.float32)
    if array.ndim != 2:
        raise InvocationError(
            400, f"{where} must be rows of feature values (2-D), not {array.ndim}-D"
        )
    width = array.shape[1]
    if width > features:
        raise InvocationError(
            400, f"{where} has {width} values per row; the model has {features} features"
        )
    if width < features:
        array = np.hstack([array, np.full((len(array), features - width), np.nan, np.float32)])
    return array


class XGBoostBodies:
    """SageMaker XGBoost container bodies to float32 rows (or CSR for libsvm) and back."""

    __slots__ = ("answers", "base", "features")

    def __init__(
        self, features: int, default_accept: str = codecs.CSV, base: int = AUTO_BASE
    ) -> None:
        self.features = features
        self.base = base
        if default_accept not in ANSWERS:
            raise ModelLoadError(
                f"{DEFAULT_ACCEPT_VARIABLE}={default_accept!r}: the xgboost flavor answers "
                f"{', '.join(ANSWERS)}"
            )
        self.answers = (default_accept, *(a for a in ANSWERS if a != default_accept))

    def decode(self, call: Call) -> Any:
        call.context = codecs.negotiate(call.accept, self.answers)
        media = codecs.media_type(call.content_type or codecs.CSV)
        if media == codecs.CSV:
            return _padded(np.array(parse_csv(call.body)), self.features, "the text/csv body")
        if media in (LIBSVM, X_LIBSVM):
            return parse_libsvm(call.body, self.features, self.base)
        if media in (codecs.JSON, codecs.NPY):
            return _padded(codecs.decode(call.body, media), self.features, f"the {media} body")
        if media == RECORDIO:
            raise InvocationError(
                415, f"turnout does not read {RECORDIO}; send text/csv or text/libsvm"
            )
        raise InvocationError(
            415,
            f"Content-Type {call.content_type!r} is not supported; use text/csv, text/libsvm, "
            f"text/x-libsvm, {codecs.JSON} or {codecs.NPY}",
        )

    def encode(self, call: Call, outputs: Any) -> Prediction:
        media = call.context or codecs.negotiate(call.accept, self.answers)
        if media == codecs.JSON:
            scores = np.asarray(outputs).tolist()
            body = json.dumps({"predictions": [{"score": score} for score in scores]})
            return Prediction(body.encode(), media)
        return Prediction(codecs.encode_as(outputs, media), media)


# -- the model --------------------------------------------------------------------------


class XGBoostModel:
    """A Booster: `predict` takes float32 rows or a CSR matrix, answers one row per row."""

    __slots__ = ("_dmatrix", "_error", "booster")

    def __init__(self, booster: Any, dmatrix: Any, error: type[Exception]) -> None:
        self.booster = booster
        self._dmatrix = dmatrix
        self._error = error

    def predict(self, batch: Any) -> Any:
        try:
            return self.booster.predict(self._dmatrix(batch), validate_features=False)
        except self._error as err:  # e.g. more columns than features: the caller's
            raise InvocationError(400, str(err).strip().splitlines()[0]) from None
        except Exception as err:
            raise InvocationError(500, f"{type(err).__name__}: {err}") from None


def load_booster(path: Path, xgb: Any) -> Any:
    """A Booster from a save_model file (JSON, UBJ) or a pickle, as the container loads it."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelLoadError(f"cannot read {path.name}: {err.strerror}") from None
    try:
        if data.startswith(_PICKLE_MAGIC):
            booster = pickle.loads(data)
            booster = booster.get_booster() if hasattr(booster, "get_booster") else booster
            if not isinstance(booster, xgb.Booster):
                raise TypeError(f"the pickle holds a {type(booster).__name__}, not a Booster")
        else:
            booster = xgb.Booster()
            booster.load_model(bytearray(data))
    except Exception as err:  # unpickling and XGBoost's parser raise anything
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelLoadError(
            f"cannot load {path.name} as an XGBoost Booster: {reason} (save it with "
            "Booster.save_model as .json or .ubj)"
        ) from None
    return booster


def _objective(booster: Any) -> tuple[str, int]:
    config = json.loads(booster.save_config())
    learner = config.get("learner", {})
    name = str(learner.get("objective", {}).get("name", ""))
    classes = int(learner.get("learner_model_param", {}).get("num_class", "0") or 0)
    return name, classes


def load(model_dir: Path, environment: Mapping[str, str]) -> LoadedModel:
    listing = Listing.of_directory(model_dir)
    name = pick_booster_file(listing, explicit=True)
    if name is None:
        raise ModelLoadError(f"{model_dir} {_explain(listing, environment)}")
    count = threads(environment, THREADS_VARIABLE)
    base_text = environment.get(LIBSVM_BASE_VARIABLE, "").strip() or "auto"
    if base_text not in ("auto", "0", "1"):
        raise ModelLoadError(f"{LIBSVM_BASE_VARIABLE}={base_text!r}: give auto, 0 or 1")
    base = AUTO_BASE if base_text == "auto" else int(base_text)
    default_accept = environment.get(DEFAULT_ACCEPT_VARIABLE, "").strip() or codecs.CSV
    xgb = import_framework("xgboost", NAME, "xgboost (the xgboost-cpu package)")
    booster = load_booster(model_dir / name, xgb)
    booster.set_param("nthread", count)
    features = booster.num_features()
    objective, classes = _objective(booster)
    output_shape = (-1, classes) if objective == "multi:softprob" and classes else (-1,)

    def dmatrix(batch: Any) -> Any:
        return xgb.DMatrix(batch, nthread=count)

    return LoadedModel(
        XGBoostModel(booster, dmatrix, xgb.core.XGBoostError),
        XGBoostBodies(features, codecs.media_type(default_accept), base),
        RowTensors("predict", np.float32),
        batchable=True,
        platform="xgboost",
        inputs=(TensorSpec("input-0", "FP32", (-1, features)),),
        outputs=(TensorSpec("predict", "FP32", output_shape),),
    )


FLAVOR = register(
    Flavor(
        name=NAME,
        summary="SageMaker XGBoost artifacts: xgboost-model (save_model or pickle) or one "
        ".ubj/.bst booster at the root (.json when the model names the flavor); CSV, libsvm, "
        "npy, JSON in; CSV (default), JSON, npy out; TURNOUT_XGBOOST_THREADS (default 1)",
        rank=40,
        detect=_detect,
        explain=_explain,
        load=load,
        marker=f"an {SAGEMAKER_FILE} file",
        images=("sagemaker-xgboost", "turnout/xgboost"),
        batching="yes",
        accepts=_accepts,
        script_mode=True,
    )
)
