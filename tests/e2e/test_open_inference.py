"""The Open Inference Protocol v2 against a real `turnout serve`, through Triton's own
clients (tritonclient.http and tritonclient.grpc), unchanged: an endpoint is a model and
a variant is a version; weights, per-variant metrics and errors as on the SageMaker path."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from scipy.stats import binom
from tritonclient.utils import InferenceServerException

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from tests.support.models import digits_rows, train_digits
from tests.support.prometheus import samples
from turnout.cli.background import BackgroundServer, free_port

pytestmark = pytest.mark.e2e

ENDPOINT = "oip"
N = 300  # inferences per client kind in the split test
GRPC_PORT = free_port()


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--grpc-port", str(GRPC_PORT))


@pytest.fixture(scope="module")
def endpoint(deploy: Deploy, artifacts: Artifacts) -> str:
    deploy(
        ENDPOINT,
        [
            VariantOf("A", artifacts.sklearn, weight=0.7),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.3),
        ],
    )
    return ENDPOINT


@pytest.fixture(scope="module")
def http(server: BackgroundServer) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def grpc(server: BackgroundServer) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{GRPC_PORT}")
    yield client
    client.close()


def rows(n: int = 1) -> np.ndarray[Any, Any]:
    return np.array(digits_rows(n)[0], dtype=np.float64)


def expected(variant: str, features: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    estimator = train_digits(C=1.0 if variant == "A" else 0.01).estimator
    return np.asarray(estimator.predict(features))


def http_infer(
    client: httpclient.InferenceServerClient,
    features: np.ndarray[Any, Any],
    *,
    version: str = "",
    datatype: str = "FP64",
    binary: bool = True,
    headers: dict[str, str] | None = None,
) -> httpclient.InferResult:
    tensor = httpclient.InferInput("input-0", list(features.shape), datatype)
    tensor.set_data_from_numpy(features, binary_data=binary)
    outputs = [httpclient.InferRequestedOutput("predict", binary_data=binary)]
    return client.infer(ENDPOINT, [tensor], model_version=version, outputs=outputs, headers=headers)


def grpc_infer(
    client: grpcclient.InferenceServerClient,
    features: np.ndarray[Any, Any],
    *,
    version: str = "",
    datatype: str = "FP64",
) -> grpcclient.InferResult:
    tensor = grpcclient.InferInput("input-0", list(features.shape), datatype)
    tensor.set_data_from_numpy(features)
    return client.infer(ENDPOINT, [tensor], model_version=version)


def invocations(server: BackgroundServer) -> dict[str, float]:
    """turnout_invocations per variant of the endpoint, from /metrics."""
    counts: Counter[str] = Counter()
    for sample in samples(server.url, "turnout_invocations", ENDPOINT):
        if sample.name.endswith("_total"):
            counts[sample.labels["variant"]] += sample.value
    return dict(counts)


def test_liveness_and_metadata_over_http(http: httpclient.InferenceServerClient, endpoint: str):
    assert http.is_server_live() and http.is_server_ready()
    server = http.get_server_metadata()
    assert server["name"] == "turnout" and "binary_tensor_data" in server["extensions"]
    assert http.is_model_ready(endpoint)
    assert http.is_model_ready(endpoint, "B")
    assert not http.is_model_ready("no-such-endpoint")
    metadata = http.get_model_metadata(endpoint)
    assert metadata["name"] == endpoint and metadata["versions"] == ["A", "B"]
    assert metadata["platform"] == "sklearn"
    assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 64]}]
    assert metadata["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]


def test_liveness_and_metadata_over_grpc(grpc: grpcclient.InferenceServerClient, endpoint: str):
    assert grpc.is_server_live() and grpc.is_server_ready()
    assert grpc.is_model_ready(endpoint)
    metadata = grpc.get_model_metadata(endpoint, as_json=True)
    assert metadata["name"] == endpoint and metadata["versions"] == ["A", "B"]
    assert [i["name"] for i in metadata["inputs"]] == ["input-0"]


@pytest.mark.parametrize("binary", [True, False])
def test_predictions_equal_the_models_own(
    http: httpclient.InferenceServerClient, endpoint: str, binary: bool
):
    features = rows(5)
    result = http_infer(http, features, binary=binary)
    version = result.get_response()["model_version"]
    np.testing.assert_array_equal(result.as_numpy("predict"), expected(version, features))


def test_weighted_variants_split_and_show_in_the_metrics(
    server: BackgroundServer,
    http: httpclient.InferenceServerClient,
    grpc: grpcclient.InferenceServerClient,
    endpoint: str,
):
    before = invocations(server)
    seen: Counter[str] = Counter()
    features = rows(1)
    for _ in range(N):
        seen[http_infer(http, features).get_response()["model_version"]] += 1
        seen[grpc_infer(grpc, features).get_response(as_json=True)["model_version"]] += 1
    low, high = binom.interval(0.999, 2 * N, 0.7)
    assert low <= seen["A"] <= high, seen
    after = invocations(server)
    assert {v: after.get(v, 0) - before.get(v, 0) for v in ("A", "B")} == {
        "A": seen["A"],
        "B": seen["B"],
    }


def test_a_version_names_the_variant(
    http: httpclient.InferenceServerClient, grpc: grpcclient.InferenceServerClient, endpoint: str
):
    features = rows(3)
    for _ in range(20):
        result = http_infer(http, features, version="B")
        assert result.get_response()["model_version"] == "B"
        np.testing.assert_array_equal(result.as_numpy("predict"), expected("B", features))
    answer = grpc_infer(grpc, features, version="B")
    assert answer.get_response(as_json=True)["model_version"] == "B"
    np.testing.assert_array_equal(answer.as_numpy("predict"), expected("B", features))


def http_error(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def test_errors_over_http(http: httpclient.InferenceServerClient, endpoint: str):
    features = rows(1)
    unknown = http_error(lambda: http.get_model_metadata("no-such-endpoint"))
    assert unknown.status() == "404" and "no endpoint no-such-endpoint" in unknown.message()
    no_version = http_error(lambda: http_infer(http, features, version="C"))
    assert no_version.status() == "404" and "its versions (variants) are A, B" in (
        no_version.message()
    )
    shape = http_error(lambda: http_infer(http, features[:, :63]))
    assert shape.status() == "400" and "64 features" in shape.message()
    words = np.array([[b"a", b"b"]], dtype=np.object_)
    datatype = http_error(lambda: http_infer(http, words, datatype="BYTES"))
    assert datatype.status() == "400" and "not BYTES" in datatype.message()


def test_errors_over_grpc(grpc: grpcclient.InferenceServerClient, endpoint: str):
    features = rows(1)
    unknown = http_error(lambda: grpc.get_model_metadata("no-such-endpoint"))
    assert unknown.status() == "StatusCode.NOT_FOUND"
    no_version = http_error(lambda: grpc_infer(grpc, features, version="C"))
    assert no_version.status() == "StatusCode.NOT_FOUND"
    shape = http_error(lambda: grpc_infer(grpc, features[:, :63]))
    assert shape.status() == "StatusCode.INVALID_ARGUMENT" and "64 features" in shape.message()
    words = np.array([[b"a", b"b"]], dtype=np.object_)
    datatype = http_error(lambda: grpc_infer(grpc, words, datatype="BYTES"))
    assert datatype.status() == "StatusCode.INVALID_ARGUMENT"


def test_the_sagemaker_path_still_answers_beside(server: BackgroundServer, endpoint: str):
    answer = httpx.post(
        f"{server.url}/endpoints/{endpoint}/invocations",
        json=digits_rows(1)[0],
        headers={"X-Amzn-SageMaker-Target-Variant": "A"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.json() == expected("A", rows(1)).tolist()


def test_sticky_users_keep_their_version(
    client: Any, http: httpclient.InferenceServerClient, endpoint: str
):
    """Last in the module: the endpoint keeps its routing settings from here on."""
    client.set_routing(endpoint, {"header": "X-Turnout-User"})
    features = rows(1)
    seen = set()
    for user in [f"user-{i}" for i in range(30)]:
        versions = {
            http_infer(http, features, headers={"X-Turnout-User": user}).get_response()[
                "model_version"
            ]
            for _ in range(6)
        }
        assert len(versions) == 1, (user, versions)
        seen |= versions
    assert seen == {"A", "B"}  # 30 users at 70/30 all on A: probability 2e-5
