from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from tests.support.models import digits_rows, npy_bytes, train_digits
from turnout.domain.resources import Flavor
from turnout.models.predictor import (
    InvocationError,
    ModelLoadError,
    Prediction,
    Predictor,
    load_predictor,
)
from turnout.models.sklearn import SklearnPredictor


def load(model_dir: Path, **environment: str) -> Predictor:
    return load_predictor(model_dir, Flavor.SKLEARN, environment)


def invoke(
    predictor: Predictor, body: bytes, content_type: str | None = None, accept: str | None = None
) -> Prediction:
    return predictor.invoke(body, content_type, accept, None)


def failure(predictor: Predictor, body: bytes, **headers: Any) -> InvocationError:
    with pytest.raises(InvocationError) as caught:
        invoke(predictor, body, **headers)
    return caught.value


def test_predicts_json_rows(sklearn_dir: Path) -> None:
    rows, labels = digits_rows(20)
    expected = train_digits().estimator.predict(np.array(rows)).tolist()
    prediction = invoke(load(sklearn_dir), json.dumps(rows).encode())
    assert prediction == Prediction(
        json.dumps(expected, separators=(",", ":")).encode(), "application/json"
    )
    assert np.mean(np.array(expected) == np.array(labels)) > 0.9  # a real model


def test_one_flat_row(sklearn_dir: Path) -> None:
    rows, labels = digits_rows(1)
    assert json.loads(invoke(load(sklearn_dir), json.dumps(rows[0]).encode()).body) == labels


def test_csv_in_npy_out(sklearn_dir: Path) -> None:
    rows, _ = digits_rows(3)
    body = "\n".join(",".join(map(str, row)) for row in rows).encode()
    prediction = invoke(load(sklearn_dir), body, "text/csv", "application/x-npy")
    assert prediction.content_type == "application/x-npy"
    expected = train_digits().estimator.predict(np.array(rows))
    assert np.array_equal(np.load(io.BytesIO(prediction.body)), expected)


def test_npy_in_csv_out(sklearn_dir: Path) -> None:
    rows, _ = digits_rows(2)
    prediction = invoke(
        load(sklearn_dir), npy_bytes(np.array(rows)), "application/x-npy", "text/csv"
    )
    expected = train_digits().estimator.predict(np.array(rows))
    assert prediction.body.decode().split() == [str(v) for v in expected]


def test_predict_proba_from_the_environment(sklearn_dir: Path) -> None:
    rows, _ = digits_rows(2)
    predictor = load(sklearn_dir, TURNOUT_SKLEARN_METHOD="predict_proba")
    probabilities = np.array(json.loads(invoke(predictor, json.dumps(rows).encode()).body))
    assert probabilities.shape == (2, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_an_unknown_method_fails_to_load(sklearn_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="TURNOUT_SKLEARN_METHOD='fit' is not one of"):
        load(sklearn_dir, TURNOUT_SKLEARN_METHOD="fit")


def test_a_method_the_model_lacks_fails_to_load(sklearn_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"LogisticRegression\) has no transform\(\)"):
        load(sklearn_dir, TURNOUT_SKLEARN_METHOD="transform")


def test_wrong_feature_count_is_400_with_sklearn_message(sklearn_dir: Path) -> None:
    error = failure(load(sklearn_dir), b"[1, 2, 3]")
    assert error.status == 400
    assert "3 features" in error.message and "64" in error.message


def test_unsupported_types_are_415_and_406(sklearn_dir: Path) -> None:
    predictor = load(sklearn_dir)
    assert failure(predictor, b"x", content_type="text/plain").status == 415
    assert failure(predictor, b"[1]", accept="text/html").status == 406


class Exploding:
    def predict(self, features: Any) -> Any:
        raise KeyError("boom")


def test_other_estimator_errors_are_500_with_type_and_message() -> None:
    error = failure(SklearnPredictor(Exploding()), b"[1, 2]")
    assert (error.status, error.message) == (500, "KeyError: 'boom'")


def test_a_corrupt_file_fails_to_load(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelLoadError, match=r"cannot load model\.joblib"):
        load(tmp_path)


def test_no_model_file_fails_to_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no \.joblib/\.pkl/\.pickle file"):
        load(tmp_path)


def test_a_pickle_file_loads(tmp_path: Path) -> None:
    joblib.dump(train_digits().estimator, tmp_path / "estimator.pkl")
    rows, labels = digits_rows(1)
    assert json.loads(invoke(load(tmp_path), json.dumps(rows).encode()).body) == labels
