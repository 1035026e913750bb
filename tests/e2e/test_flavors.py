"""The ONNX, XGBoost and MLflow flavors behind a real `turnout serve`, deployed and invoked
with boto3 exactly as against SageMaker: one server, one endpoint per flavor."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.api.sagemaker.conftest import clients
from tests.support.models import (
    digits_rows,
    make_mlflow_model,
    make_onnx_model,
    make_tarball,
    make_xgboost_model,
    train_xgboost,
)
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

ort = pytest.importorskip("onnxruntime", reason="the flavor e2e tests need turnout[test]")
xgboost = pytest.importorskip("xgboost", reason="the flavor e2e tests need turnout[test]")
mlflow = pytest.importorskip("mlflow.pyfunc", reason="the flavor e2e tests need turnout[test]")

ROLE = "arn:aws:iam::123456789012:role/turnout-tests"
FAST = {"Delay": 0.25, "MaxAttempts": 480}  # waiters poll every 0.25 s, at most 120 s
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


class Deployed:
    """The module's artifacts (unpacked, for the reference predictions) and clients."""

    def __init__(self, root: Path, runtime: Any) -> None:
        self.onnx = make_onnx_model(root / "onnx")
        self.xgboost = make_xgboost_model(root / "xgboost", "multi:softprob")
        self.mlflow = make_mlflow_model(root / "mlflow")
        self.runtime = runtime

    def invoke(self, endpoint: str, body: bytes, content_type: str, accept: str = "") -> Any:
        headers = {"Accept": accept} if accept else {}
        return self.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=body, ContentType=content_type, **headers
        )


@pytest.fixture(scope="module")
def deployed(server: BackgroundServer, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    sagemaker, runtime = clients(server.url)
    root = tmp_path_factory.mktemp("flavors")
    setup = Deployed(root, runtime)
    images = {"onnx": "turnout/onnx", "xgboost": XGBOOST_IMAGE, "mlflow": "turnout/mlflow"}
    for flavor, image in images.items():
        tarball = make_tarball(getattr(setup, flavor), root / "tarballs" / flavor / "model.tar.gz")
        sagemaker.create_model(
            ModelName=flavor,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": image, "ModelDataUrl": tarball.as_uri()},
        )
        variant = {
            "VariantName": "A",
            "ModelName": flavor,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
        }
        sagemaker.create_endpoint_config(EndpointConfigName=flavor, ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName=flavor, EndpointConfigName=flavor)
    for flavor in images:
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=flavor, WaiterConfig=FAST)
    return setup


def test_onnx_through_boto3(deployed: Deployed) -> None:
    rows, _ = digits_rows(8)
    session = ort.InferenceSession(
        str(deployed.onnx / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    label, zipmap = session.run(None, {"X": np.array(rows, dtype=np.float32)})
    response = deployed.invoke("onnx", json.dumps(rows).encode(), "application/json")
    assert response["ContentType"] == "application/json"
    answer = json.loads(response["Body"].read())
    assert answer["output_label"] == label.tolist()
    expected = [[row[c] for c in range(10)] for row in zipmap]
    assert np.array_equal(
        np.array(answer["output_probability"], np.float32), np.array(expected, np.float32)
    )


def test_xgboost_through_boto3(deployed: Deployed) -> None:
    rows = train_xgboost("multi:softprob").X_test[:6]
    expected = train_xgboost("multi:softprob").booster.predict(xgboost.DMatrix(rows))
    body = "\n".join(",".join(str(v) for v in row) for row in rows).encode()
    response = deployed.invoke("xgboost", body, "text/csv")
    assert response["ContentType"] == "text/csv"  # the container's default answer
    answer = np.loadtxt(io.StringIO(response["Body"].read().decode()), delimiter=",")
    assert np.array_equal(answer, expected.astype(np.float64))
    libsvm = "\n".join(
        "0 " + " ".join(f"{i}:{v}" for i, v in enumerate(row) if v) for row in rows
    ).encode()
    sparse = rows.copy()
    sparse[sparse == 0] = np.nan
    response = deployed.invoke("xgboost", libsvm, "text/libsvm", "application/json")
    scores = [p["score"] for p in json.loads(response["Body"].read())["predictions"]]
    want = train_xgboost("multi:softprob").booster.predict(xgboost.DMatrix(sparse))
    # digits' pixel 0 is never set: the request's indices all start at 1 or more, so they are
    # read as 1-based, as the container and XGBoost's own libsvm reader guess
    shifted = np.hstack([sparse[:, 1:], np.full((len(rows), 1), np.nan)])
    guessed = train_xgboost("multi:softprob").booster.predict(xgboost.DMatrix(shifted))
    assert scores == guessed.tolist() and scores != want.tolist()


def test_mlflow_through_boto3(deployed: Deployed) -> None:
    rows, _ = digits_rows(8)
    expected = mlflow.load_model(str(deployed.mlflow)).predict(np.array(rows)).tolist()
    body = json.dumps({"dataframe_split": {"data": rows}}).encode()
    response = deployed.invoke("mlflow", body, "application/json")
    assert json.loads(response["Body"].read()) == {"predictions": expected}
    inputs = json.dumps({"inputs": rows}).encode()
    assert json.loads(deployed.invoke("mlflow", inputs, "application/json")["Body"].read()) == {
        "predictions": expected
    }


def test_a_bad_body_is_the_models_400(deployed: Deployed) -> None:
    from botocore.exceptions import ClientError

    for endpoint, content_type in (("onnx", "application/json"), ("xgboost", "text/csv"),
                                   ("mlflow", "application/json")):  # fmt: skip
        with pytest.raises(ClientError) as raised:
            deployed.invoke(endpoint, b"not a body", content_type)
        assert raised.value.response["OriginalStatusCode"] == 400, endpoint


# -- the same endpoints through the Open Inference Protocol (tritonclient.http) ----------


def infer_v2(
    server: BackgroundServer, endpoint: str, features: np.ndarray[Any, Any]
) -> dict[str, np.ndarray[Any, Any]]:
    """Every output of one inference, the input named and typed as the metadata says."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        metadata = client.get_model_metadata(endpoint)
        (spec,) = metadata["inputs"]
        tensor = httpclient.InferInput(spec["name"], list(features.shape), spec["datatype"])
        dtypes = {"FP32": np.float32, "FP64": np.float64}
        tensor.set_data_from_numpy(features.astype(dtypes[spec["datatype"]]))
        result = client.infer(endpoint, [tensor])
        return {o["name"]: result.as_numpy(o["name"]) for o in result.get_response()["outputs"]}
    finally:
        client.close()


def test_onnx_through_open_inference(server: BackgroundServer, deployed: Deployed) -> None:
    rows = np.array(digits_rows(8)[0], dtype=np.float32)
    session = ort.InferenceSession(
        str(deployed.onnx / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    label, zipmap = session.run(None, {"X": rows})
    outputs = infer_v2(server, "onnx", rows)
    np.testing.assert_array_equal(outputs["output_label"], label)
    expected = np.array([[row[c] for c in range(10)] for row in zipmap], np.float32)
    np.testing.assert_array_equal(outputs["output_probability"], expected)


def test_xgboost_through_open_inference(server: BackgroundServer, deployed: Deployed) -> None:
    model = train_xgboost("multi:softprob")
    rows = model.X_test[:6]
    (answer,) = infer_v2(server, "xgboost", rows).values()
    np.testing.assert_array_equal(answer, model.booster.predict(xgboost.DMatrix(rows)))


def test_mlflow_through_open_inference(server: BackgroundServer, deployed: Deployed) -> None:
    rows = np.array(digits_rows(8)[0])
    expected = mlflow.load_model(str(deployed.mlflow)).predict(rows)
    (answer,) = infer_v2(server, "mlflow", rows).values()
    np.testing.assert_array_equal(answer, np.asarray(expected))
