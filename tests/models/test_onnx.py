from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.flavors import batched, failure, invoke, load
from tests.support.models import digits_rows, make_onnx_model, npy_bytes
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.runtime import Call, TensorSpec

ort = pytest.importorskip("onnxruntime", reason="the onnx flavor's tests need turnout[test]")
pytest.importorskip("skl2onnx", reason="the onnx tests convert models with skl2onnx")


@pytest.fixture(scope="module")
def zipmap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx_model(tmp_path_factory.mktemp("onnx-zipmap"), zipmap=True)


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx_model(tmp_path_factory.mktemp("onnx-plain"), zipmap=False)


def reference(model_dir: Path, rows: Any) -> list[Any]:
    """onnxruntime's own answers for `rows`."""
    session = ort.InferenceSession(
        str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"X": np.asarray(rows, dtype=np.float32)})


def test_predicts_like_onnxruntime_without_zipmap(plain_dir: Path) -> None:
    rows, labels = digits_rows(20)
    label, probabilities = reference(plain_dir, rows)
    answer = json.loads(invoke(load("onnx", plain_dir), json.dumps(rows).encode()).body)
    assert set(answer) == {"label", "probabilities"}
    assert answer["label"] == label.tolist()
    assert np.array_equal(np.array(answer["probabilities"], dtype=np.float32), probabilities)
    assert np.mean(label == np.array(labels)) > 0.9  # a real model


def test_a_zipmap_becomes_rows_of_class_probabilities(zipmap_dir: Path) -> None:
    rows, _ = digits_rows(5)
    label, zipmap = reference(zipmap_dir, rows)
    expected = np.array([[row[c] for c in range(10)] for row in zipmap], dtype=np.float32)
    answer = json.loads(invoke(load("onnx", zipmap_dir), json.dumps(rows).encode()).body)
    assert answer["output_label"] == label.tolist()
    assert np.array_equal(np.array(answer["output_probability"], dtype=np.float32), expected)


def test_metadata_from_the_graph(zipmap_dir: Path, plain_dir: Path) -> None:
    plain = load("onnx", plain_dir)
    assert plain.platform == "onnxruntime_onnx" and plain.batchable
    assert plain.inputs == (TensorSpec("X", "FP32", (-1, 64)),)
    assert plain.outputs == (
        TensorSpec("label", "INT64", (-1,)),
        TensorSpec("probabilities", "FP32", (-1, 10)),
    )
    assert load("onnx", zipmap_dir).outputs[1] == TensorSpec("output_probability", "FP32", (-1, -1))


def test_csv_and_npy_bodies_with_one_chosen_output(plain_dir: Path) -> None:
    rows, _ = digits_rows(3)
    label, probabilities = reference(plain_dir, rows)
    predictor = load("onnx", plain_dir, {"TURNOUT_ONNX_OUTPUTS": "label"})
    csv_body = "\n".join(",".join(map(str, row)) for row in rows).encode()
    assert invoke(predictor, csv_body, "text/csv", "text/csv").body.split() == [
        str(v).encode() for v in label
    ]
    probabilities_only = load("onnx", plain_dir, {"TURNOUT_ONNX_OUTPUTS": "probabilities"})
    npy = "application/x-npy"
    answer = invoke(probabilities_only, npy_bytes(np.array(rows)), npy, npy)
    assert np.array_equal(np.load(io.BytesIO(answer.body)), probabilities)


def test_a_named_input_object_and_one_flat_row(plain_dir: Path) -> None:
    rows, labels = digits_rows(1)
    predictor = load("onnx", plain_dir)
    assert json.loads(invoke(predictor, json.dumps({"X": rows}).encode()).body)["label"] == labels
    assert json.loads(invoke(predictor, json.dumps(rows[0]).encode()).body)["label"] == labels


def test_bad_requests_are_4xx(plain_dir: Path) -> None:
    predictor = load("onnx", plain_dir)
    wrong_shape = failure(predictor, b"[1, 2, 3]")
    assert wrong_shape.status == 400 and "[N, 64]" in wrong_shape.message
    assert failure(predictor, b"not json").status == 400
    assert failure(predictor, b'[["a", "b"]]').status == 400
    assert failure(predictor, b'{"Y": [[1]]}').status == 400
    assert failure(predictor, b"", "application/json").status == 400
    assert failure(predictor, b"1,2", "text/plain").status == 415
    several = failure(predictor, b"[1]", "application/json", "text/csv")  # before predicting
    assert several.status == 406 and "TURNOUT_ONNX_OUTPUTS" in several.message


def test_tensor_codec(plain_dir: Path) -> None:
    predictor = load("onnx", plain_dir)
    assert predictor.tensors is not None
    rows, labels = digits_rows(2)
    inputs = predictor.tensors.inputs({"anything": np.array(rows)})  # one input: any name
    assert inputs.dtype == np.float32
    outputs = predictor.tensors.outputs(predictor.model.predict(inputs))
    assert set(outputs) == {"label", "probabilities"} and outputs["label"].tolist() == labels
    with pytest.raises(InvocationError) as caught:
        predictor.tensors.inputs({"a": np.ones((1, 64)), "b": np.ones((1, 64))})
    assert caught.value.status == 400


def test_requests_batch_through_the_real_model(zipmap_dir: Path) -> None:
    rows, _ = digits_rows(5)
    predictor = load("onnx", zipmap_dir)
    calls = [
        Call(json.dumps(rows[:2]).encode(), "application/json"),
        Call("\n".join(",".join(map(str, r)) for r in rows[2:]).encode(), "text/csv"),
    ]
    batched(predictor, calls)


def test_load_errors_say_what_to_do(tmp_path: Path, plain_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no \.onnx file"):
        load("onnx", tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelLoadError, match=r"cannot load model\.onnx"):
        load("onnx", tmp_path)
    with pytest.raises(ModelLoadError, match="TURNOUT_ONNX_OUTPUTS names nope"):
        load("onnx", plain_dir, {"TURNOUT_ONNX_OUTPUTS": "nope"})
    with pytest.raises(ModelLoadError, match="TURNOUT_ONNX_THREADS='0'"):
        load("onnx", plain_dir, {"TURNOUT_ONNX_THREADS": "0"})


def test_a_missing_framework_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, plain_dir: Path
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    with pytest.raises(ModelLoadError, match=r"pip install 'turnout\[onnx\]'"):
        load("onnx", plain_dir)
