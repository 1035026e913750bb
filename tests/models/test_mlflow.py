from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.flavors import batched, failure, invoke, load
from tests.support.models import N_FEATURES, digits_rows, make_mlflow_model
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.runtime import Call, TensorSpec

mlflow = pytest.importorskip("mlflow.pyfunc", reason="the mlflow flavor's tests need turnout[test]")
pd = pytest.importorskip("pandas", reason="the mlflow flavor's tests need turnout[test]")

COLUMNS = [f"p{i}" for i in range(N_FEATURES)]


@pytest.fixture(scope="module")
def tensor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signature inferred from numpy rows: one float64 tensor (-1, 64)."""
    return make_mlflow_model(tmp_path_factory.mktemp("mlflow") / "tensor")


@pytest.fixture(scope="module")
def columns_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signature inferred from a DataFrame: 64 double columns p0..p63."""
    return make_mlflow_model(tmp_path_factory.mktemp("mlflow") / "columns", columns=True)


def reference(model_dir: Path, data: Any) -> list[Any]:
    return np.asarray(mlflow.load_model(str(model_dir)).predict(data)).tolist()


def predictions(model_dir: Path, body: object, content_type: str = "application/json") -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    prediction = invoke(load("mlflow", model_dir), raw, content_type)
    assert prediction.content_type == "application/json"
    return json.loads(prediction.body)["predictions"]


def test_every_scoring_server_format(tensor_dir: Path) -> None:
    rows, labels = digits_rows(10)
    expected = reference(tensor_dir, np.array(rows))
    assert np.mean(np.array(expected) == np.array(labels)) > 0.9  # a real model
    assert predictions(tensor_dir, {"inputs": rows}) == expected
    assert predictions(tensor_dir, {"instances": rows}) == expected
    assert predictions(tensor_dir, {"dataframe_split": {"data": rows}}) == expected
    records = [{str(i): v for i, v in enumerate(row)} for row in rows]
    assert predictions(tensor_dir, {"dataframe_records": records}) == expected


def test_column_signature_with_csv_and_records(columns_dir: Path) -> None:
    rows, _ = digits_rows(4)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    expected = reference(columns_dir, frame)
    csv_body = frame.to_csv(index=False).encode()
    assert predictions(columns_dir, csv_body, "text/csv") == expected
    split = {"dataframe_split": {"columns": COLUMNS, "data": rows}}
    assert predictions(columns_dir, split) == expected
    assert predictions(columns_dir, {"dataframe_records": frame.to_dict("records")}) == expected


def test_params_are_passed_and_predicted_alone(tensor_dir: Path) -> None:
    rows, labels = digits_rows(2)
    predictor = load("mlflow", tensor_dir)
    call = Call(json.dumps({"inputs": rows, "params": {}}).encode(), "application/json")
    from turnout.models import batching

    assert batching.signature(predictor.body.decode(call)) is None
    assert json.loads(predictor.invoke(call).body) == {"predictions": labels}


def test_metadata_from_the_signature(tensor_dir: Path, columns_dir: Path) -> None:
    tensor = load("mlflow", tensor_dir)
    assert tensor.platform == "mlflow" and tensor.batchable
    assert tensor.inputs == (TensorSpec("input-0", "FP64", (-1, 64)),)
    assert tensor.outputs == (TensorSpec("predictions", "INT64", (-1,)),)
    columns = load("mlflow", columns_dir)
    assert columns.inputs[0] == TensorSpec("p0", "FP64", (-1,)) and len(columns.inputs) == 64


def test_tensor_codec(tensor_dir: Path, columns_dir: Path) -> None:
    rows, labels = digits_rows(3)
    for model_dir in (tensor_dir, columns_dir):
        predictor = load("mlflow", model_dir)
        assert predictor.tensors is not None
        inputs = predictor.tensors.inputs({"input-0": np.array(rows)})
        outputs = predictor.tensors.outputs(predictor.model.predict(inputs))
        assert outputs["predictions"].tolist() == labels
    columns = load("mlflow", columns_dir)
    assert columns.tensors is not None
    named = {name: np.array(rows)[:, i] for i, name in enumerate(COLUMNS)}
    frame = columns.tensors.inputs(named)
    assert list(frame.columns) == COLUMNS
    assert columns.model.predict(frame).tolist() == labels
    with pytest.raises(InvocationError) as caught:
        columns.tensors.inputs({"x": np.ones((1, 3))})
    assert caught.value.status == 400


def test_bad_requests_are_4xx(tensor_dir: Path) -> None:
    predictor = load("mlflow", tensor_dir)
    assert failure(predictor, b"[[1, 2]]").status == 400  # a bare list is not a format
    assert failure(predictor, b'{"inputs": [[1], [2]], "instances": []}').status == 400
    shape = failure(predictor, b'{"inputs": [[1, 2]]}')
    assert shape.status == 400 and "shape" in shape.message
    assert failure(predictor, b"garbage").status == 400
    assert failure(predictor, b'{"dataframe_split": [1]}').status == 400
    assert failure(predictor, b"a,b\n1", "text/csv").status == 400
    assert failure(predictor, b"{}", "text/plain").status == 415
    assert failure(predictor, b"{}", "application/json; charset=latin-1").status == 415
    assert failure(predictor, b'{"inputs": [[1]]}', "application/json", "text/csv").status == 406


@pytest.mark.parametrize("formats", [("inputs", "inputs"), ("dataframe_split", "dataframe_split")])
def test_requests_batch_through_the_real_model(tensor_dir: Path, formats: tuple[str, str]) -> None:
    rows, _ = digits_rows(5)

    def body(key: str, part: list[list[float]]) -> bytes:
        value = {"data": part} if key == "dataframe_split" else part
        return json.dumps({key: value}).encode()

    calls = [
        Call(body(formats[0], rows[:2]), "application/json"),
        Call(body(formats[1], rows[2:]), "application/json"),
    ]
    batched(load("mlflow", tensor_dir), calls)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="has no MLmodel file"):
        load("mlflow", tmp_path)
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(ModelLoadError, match="cannot load the MLflow model"):
        load("mlflow", tmp_path)
