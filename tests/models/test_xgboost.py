from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.flavors import batched, failure, invoke, load
from tests.support.models import make_tarball, make_xgboost_model, npy_bytes, train_xgboost
from turnout.domain.resources import Model
from turnout.models.artifact import inspect_artifact
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.runtime import Call, TensorSpec

xgboost = pytest.importorskip("xgboost", reason="the xgboost flavor's tests need turnout[test]")

BINARY, MULTI = "binary:logistic", "multi:softprob"


@pytest.fixture(scope="module")
def binary_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_xgboost_model(tmp_path_factory.mktemp("xgb-binary"), BINARY)


@pytest.fixture(scope="module")
def multi_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_xgboost_model(tmp_path_factory.mktemp("xgb-multi"), MULTI)


def expected(objective: str, rows: Any) -> np.ndarray[Any, Any]:
    return train_xgboost(objective).booster.predict(xgboost.DMatrix(np.asarray(rows)))


def csv_of(rows: Any) -> bytes:
    return "\n".join(",".join(str(v) for v in row) for row in rows).encode()


def libsvm_of(rows: Any, base: int = 0) -> bytes:
    """`label idx:val ...` lines, zeros left out (absent = missing in XGBoost)."""
    lines = []
    for row in rows:
        cells = " ".join(f"{i + base}:{v}" for i, v in enumerate(row) if v != 0)
        lines.append(f"0 {cells}")
    return "\n".join(lines).encode()


def csv_answer(body: bytes) -> np.ndarray[Any, Any]:
    return np.loadtxt(io.StringIO(body.decode()), delimiter=",", ndmin=1, dtype=np.float64)


def test_csv_in_csv_out_like_the_container(binary_dir: Path) -> None:
    rows = train_xgboost(BINARY).X_test[:10]
    prediction = invoke(load("xgboost", binary_dir), csv_of(rows), "text/csv")
    assert prediction.content_type == "text/csv"
    want = expected(BINARY, rows)
    assert prediction.body.decode().splitlines() == [str(v) for v in want.tolist()]


def test_no_content_type_is_csv_and_json_is_scores(binary_dir: Path) -> None:
    rows = train_xgboost(BINARY).X_test[:3]
    answer = json.loads(
        invoke(load("xgboost", binary_dir), csv_of(rows), None, "application/json").body
    )
    assert answer == {"predictions": [{"score": v} for v in expected(BINARY, rows).tolist()]}


def test_multi_softprob_rows_of_probabilities(multi_dir: Path) -> None:
    rows = train_xgboost(MULTI).X_test[:4]
    predictor = load("xgboost", multi_dir)
    want = expected(MULTI, rows)
    assert want.shape == (4, 10)
    assert np.array_equal(csv_answer(invoke(predictor, csv_of(rows)).body), want.astype(np.float64))
    scores = json.loads(invoke(predictor, csv_of(rows), "text/csv", "application/json").body)
    assert [p["score"] for p in scores["predictions"]] == want.tolist()
    assert predictor.outputs == (TensorSpec("predict", "FP32", (-1, 10)),)


@pytest.mark.parametrize("content_type", ["text/libsvm", "text/x-libsvm"])
@pytest.mark.parametrize(("base", "variable"), [(0, "auto"), (1, "auto"), (0, "0"), (1, "1")])
def test_libsvm_rows(multi_dir: Path, content_type: str, base: int, variable: str) -> None:
    rows = train_xgboost(MULTI).X_test[:5].copy()
    if variable == "auto":
        rows[:, 0] = 1.0  # digits' first pixel is always 0: left out, it hides 0-based indices
    dense = rows.copy()
    dense[dense == 0] = np.nan  # what the sparse rows leave out is missing, not zero
    predictor = load("xgboost", multi_dir, {"TURNOUT_XGBOOST_LIBSVM_BASE": variable})
    answer = invoke(predictor, libsvm_of(rows, base), content_type, "application/x-npy")
    assert np.array_equal(np.load(io.BytesIO(answer.body)), expected(MULTI, dense))


def test_libsvm_indices_are_guessed_per_request_unless_told(multi_dir: Path) -> None:
    rows = train_xgboost(MULTI).X_test[:1]  # 0-based, and feature 0 is absent
    guessed = invoke(load("xgboost", multi_dir), libsvm_of(rows), "text/libsvm").body
    told = load("xgboost", multi_dir, {"TURNOUT_XGBOOST_LIBSVM_BASE": "0"})
    dense = rows.copy()
    dense[dense == 0] = np.nan
    answer = csv_answer(invoke(told, libsvm_of(rows), "text/libsvm").body)
    assert np.array_equal(answer, expected(MULTI, dense)[0].astype(np.float64))
    assert guessed != invoke(told, libsvm_of(rows), "text/libsvm").body  # the container's guess
    assert failure(load("xgboost", multi_dir, {"TURNOUT_XGBOOST_LIBSVM_BASE": "1"}), b"0 0:1",
                   "text/libsvm").status == 400  # fmt: skip


def test_npy_and_json_rows(binary_dir: Path) -> None:
    rows = train_xgboost(BINARY).X_test[:3]
    predictor = load("xgboost", binary_dir)
    want = [str(v) for v in expected(BINARY, rows).tolist()]
    assert invoke(predictor, npy_bytes(rows), "application/x-npy").body.decode().split() == want
    body = json.dumps(rows.tolist()).encode()
    assert invoke(predictor, body, "application/json").body.decode().split() == want


def test_empty_cells_and_short_rows_are_missing_values(binary_dir: Path) -> None:
    row = train_xgboost(BINARY).X_test[0].copy()
    predictor = load("xgboost", binary_dir)
    text = ",".join("" if i == 3 else str(v) for i, v in enumerate(row[:20])).encode()
    row[3] = np.nan
    padded = np.concatenate([row[:20], np.full(10, np.nan)])
    assert invoke(predictor, text).body.decode().strip() == str(
        expected(BINARY, [padded]).tolist()[0]
    )


def test_bad_requests_are_4xx(binary_dir: Path) -> None:
    predictor = load("xgboost", binary_dir)
    assert failure(predictor, b"a,b,c").status == 400
    assert failure(predictor, b"").status == 400
    assert failure(predictor, b"1,2\n3").status == 400
    too_wide = failure(predictor, csv_of([[1.0] * 31]))
    assert too_wide.status == 400 and "30 features" in too_wide.message
    assert failure(predictor, b"0 99:1", "text/libsvm").status == 400
    assert failure(predictor, b"0 x:1", "text/libsvm").status == 400
    recordio = failure(predictor, b"\x00", "application/x-recordio-protobuf")
    assert recordio.status == 415 and "text/csv" in recordio.message
    assert failure(predictor, b"1", "text/plain").status == 415
    assert failure(predictor, b"1", "text/csv", "application/jsonlines").status == 406


def test_default_accept_from_the_environment(binary_dir: Path) -> None:
    predictor = load(
        "xgboost", binary_dir, {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"}
    )
    assert invoke(predictor, b"1,2,3", "text/csv", "*/*").content_type == "application/json"
    with pytest.raises(ModelLoadError, match="SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"):
        load("xgboost", binary_dir, {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/html"})


def test_tensor_codec_and_metadata(binary_dir: Path) -> None:
    predictor = load("xgboost", binary_dir)
    assert predictor.platform == "xgboost" and predictor.batchable
    assert predictor.inputs == (TensorSpec("input-0", "FP32", (-1, 30)),)
    assert predictor.tensors is not None
    rows = train_xgboost(BINARY).X_test[:2]
    outputs = predictor.tensors.outputs(
        predictor.model.predict(predictor.tensors.inputs({"x": rows}))
    )
    assert np.array_equal(outputs["predict"], expected(BINARY, rows))
    with pytest.raises(InvocationError) as caught:
        predictor.model.predict(predictor.tensors.inputs({"x": np.ones((1, 31))}))
    assert caught.value.status == 400


@pytest.mark.parametrize("content_type", ["text/csv", "text/libsvm"])
def test_requests_batch_through_the_real_model(multi_dir: Path, content_type: str) -> None:
    rows = train_xgboost(MULTI).X_test[:5]
    encode = csv_of if content_type == "text/csv" else libsvm_of
    calls = [
        Call(encode(rows[:2]), content_type),
        Call(encode(rows[2:]), content_type, "application/json"),
    ]
    batched(load("xgboost", multi_dir), calls)


@pytest.mark.parametrize("name", ["m.json", "m.ubj", "xgboost-model"])
def test_booster_files_of_every_format(tmp_path: Path, name: str) -> None:
    booster = train_xgboost(BINARY).booster
    if name == "xgboost-model":  # a pickled Booster, as containers before 1.3 wrote it
        (tmp_path / name).write_bytes(pickle.dumps(booster))
    else:
        booster.save_model(str(tmp_path / name))
    rows = train_xgboost(BINARY).X_test[:2]
    answer = invoke(load("xgboost", tmp_path), csv_of(rows)).body.decode().split()
    assert answer == [str(v) for v in expected(BINARY, rows).tolist()]


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="has no xgboost-model file"):
        load("xgboost", tmp_path)
    (tmp_path / "xgboost-model").write_bytes(b"\x80not a pickle")
    with pytest.raises(ModelLoadError, match="cannot load xgboost-model as an XGBoost Booster"):
        load("xgboost", tmp_path)


def test_a_sagemaker_tarball_is_detected(binary_dir: Path, tmp_path: Path) -> None:
    tarball = make_tarball(binary_dir, tmp_path / "model.tar.gz")
    assert inspect_artifact(Model(name="m", artifact=str(tarball))).flavor == "xgboost"
