from __future__ import annotations

import io
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.models import (
    BROKEN_MESSAGE,
    digits_rows,
    make_broken_model,
    make_sklearn_model,
    train_digits,
)
from turnout.domain.resources import Flavor
from turnout.models.inference import Context
from turnout.models.predictor import (
    InvocationError,
    ModelLoadError,
    Prediction,
    Predictor,
    load_predictor,
)

PERFKIT_HANDLER = Path(__file__).resolve().parents[3] / "shared" / "perfkit" / "inference.py"


def load(model_dir: Path, **environment: str) -> Predictor:
    return load_predictor(model_dir, Flavor.INFERENCE, environment)


def with_script(model_dir: Path, source: str, name: str = "inference.py") -> Path:
    make_sklearn_model(model_dir)
    (model_dir / "code").mkdir(exist_ok=True)
    (model_dir / "code" / name).write_text(textwrap.dedent(source))
    return model_dir


def invoke(
    predictor: Predictor,
    body: bytes,
    content_type: str | None = None,
    accept: str | None = None,
    attributes: str | None = None,
) -> Prediction:
    return predictor.invoke(body, content_type, accept, attributes)


def failure(predictor: Predictor, body: bytes, **headers: Any) -> InvocationError:
    with pytest.raises(InvocationError) as caught:
        invoke(predictor, body, **headers)
    return caught.value


def expected_labels(rows: list[list[float]]) -> list[int]:
    return [int(v) for v in train_digits().estimator.predict(np.array(rows))]


# -- the handler chain ------------------------------------------------------------------


def test_four_handlers(inference_dir: Path) -> None:
    rows, _ = digits_rows(5)
    prediction = invoke(load(inference_dir), json.dumps(rows).encode())
    assert prediction.content_type == "application/json"
    assert json.loads(prediction.body) == expected_labels(rows)


@pytest.mark.skipif(not PERFKIT_HANDLER.exists(), reason="shared/perfkit is not beside the repo")
@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_the_perfkit_handler_with_its_optional_context(tmp_path: Path, accept: str | None) -> None:
    make_sklearn_model(tmp_path)
    (tmp_path / "code").mkdir()
    shutil.copy(PERFKIT_HANDLER, tmp_path / "code" / "inference.py")
    predictor = load(tmp_path)
    rows, _ = digits_rows(2)
    one = invoke(predictor, json.dumps(rows[0]).encode(), "application/json", accept)
    assert (json.loads(one.body), one.content_type) == (
        expected_labels(rows[:1]),
        "application/json",
    )
    two = invoke(predictor, json.dumps(rows).encode(), None, accept)
    assert json.loads(two.body) == expected_labels(rows)
    bad_shape = failure(predictor, b"[1, 2]")
    assert bad_shape.status == 400
    assert "expected one row or a list of rows of 64 numbers" in bad_shape.message
    assert failure(predictor, b"1,2", content_type="text/csv").status == 400


def test_no_handlers_at_all_uses_the_model_file_and_codecs(tmp_path: Path) -> None:
    predictor = load(with_script(tmp_path, "# nothing to override\n"))
    rows, _ = digits_rows(3)
    body = "\n".join(",".join(map(str, row)) for row in rows).encode()
    prediction = invoke(predictor, body, "text/csv", "application/x-npy")
    assert prediction.content_type == "application/x-npy"
    assert np.load(io.BytesIO(prediction.body)).tolist() == expected_labels(rows)
    assert failure(predictor, b"[1]", accept="text/html").status == 406
    assert failure(predictor, b"x", content_type="text/plain").status == 415


def test_the_body_is_text_for_json_and_csv_bytes_otherwise(tmp_path: Path) -> None:
    source = """
        def model_fn(model_dir):
            return None

        def transform_fn(model, body, content_type, accept):
            return type(body).__name__ + " " + content_type + " " + accept
    """
    predictor = load(with_script(tmp_path, source))
    assert invoke(predictor, b"[]").body == b"str application/json application/json"
    assert invoke(predictor, b"1", "text/csv", "text/csv").body == b"str text/csv text/csv"
    assert invoke(predictor, b"\x00", "application/octet-stream").body.startswith(b"bytes ")
    assert failure(predictor, b"\xff", content_type="application/json").status == 400


def test_transform_fn_with_context_and_a_tuple(tmp_path: Path) -> None:
    source = """
        def model_fn(model_dir, context):
            assert context.system_properties["model_dir"] == model_dir
            return "model"

        def transform_fn(model, body, content_type, accept, context):
            context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "seen=1")
            return body.upper(), "text/x-shout"
    """
    prediction = invoke(load(with_script(tmp_path, source)), b"hi", "text/csv", None, "a=1")
    assert prediction == Prediction(b"HI", "text/x-shout", "seen=1")


def test_a_custom_output_answers_as_the_accept_header(tmp_path: Path) -> None:
    source = """
        def input_fn(body, content_type):
            return [[0.0] * 64]

        def output_fn(prediction, accept):
            return b"\\x08\\x01"
    """
    predictor = load(with_script(tmp_path, source))
    assert invoke(predictor, b"", accept="application/x-protobuf").content_type == (
        "application/x-protobuf"
    )
    assert invoke(predictor, b"", accept="text/*").content_type == "text/csv"
    assert invoke(predictor, b"", accept="image/png, */*;q=0.1").content_type == (
        "application/json"
    )
    assert invoke(predictor, b"", accept="image/png;q=0.8").content_type == "image/png"


def test_default_accept_from_the_environment(tmp_path: Path) -> None:
    predictor = load(with_script(tmp_path, ""), SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv")
    rows, _ = digits_rows(2)
    prediction = invoke(predictor, json.dumps(rows).encode(), accept="*/*")
    assert prediction.content_type == "text/csv"
    assert prediction.body.decode().split() == [str(v) for v in expected_labels(rows)]


def test_predict_fn_default_calls_a_callable_model(tmp_path: Path) -> None:
    source = """
        def model_fn(model_dir):
            return lambda rows: rows.sum(axis=1)
    """
    assert invoke(load(with_script(tmp_path, source)), b"[[1, 2], [3, 4]]").body == b"[3.0,7.0]"


def test_custom_attributes_through_the_context(faulty_dir: Path) -> None:
    predictor = load(faulty_dir)
    prediction = invoke(predictor, b'{"echo_attributes": true}', attributes="trace=abc")
    assert json.loads(prediction.body) == {"custom_attributes": "trace=abc"}
    assert prediction.custom_attributes == "trace=abc"
    assert invoke(predictor, b'{"echo_attributes": true}').custom_attributes is None


def test_a_script_named_by_sagemaker_program(tmp_path: Path) -> None:
    source = """
        def transform_fn(model, body, content_type, accept):
            return "custom"
    """
    predictor = load(with_script(tmp_path, source, "serve_it.py"), SAGEMAKER_PROGRAM="serve_it")
    assert invoke(predictor, b"").body == b"custom"


def test_a_script_named_like_a_stdlib_module_does_not_shadow_it(tmp_path: Path) -> None:
    source = """
        def transform_fn(model, body, content_type, accept):
            return "mine"
    """
    predictor = load(with_script(tmp_path, source, "json.py"), SAGEMAKER_PROGRAM="json.py")
    assert invoke(predictor, b"").body == b"mine"
    assert json.loads("[1]") == [1]


def test_context_reads_the_request_headers() -> None:
    context = Context("/m", "text/csv", "application/json", "a=1")
    assert context.get_request_header(0, "Content-Type") == "text/csv"
    assert context.get_request_header(0, "ACCEPT") == "application/json"
    assert context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes") == "a=1"
    assert context.custom_attributes == "a=1"
    assert context.get_request_header(0, "X-Other") is None


# -- errors -----------------------------------------------------------------------------


def test_input_fn_errors_are_400_with_the_message(inference_dir: Path) -> None:
    error = failure(load(inference_dir), b"1,2", content_type="text/csv")
    assert (error.status, error.message) == (400, "only application/json is supported")


def test_predict_fn_errors_are_500_with_type_and_message(faulty_dir: Path) -> None:
    predictor = load(faulty_dir)
    error = failure(predictor, b'{"raise": "boom"}')
    assert (error.status, error.message) == (500, "RuntimeError: boom")
    rows, _ = digits_rows(1)
    assert json.loads(invoke(predictor, json.dumps(rows).encode()).body) == expected_labels(rows)


def test_output_fn_returning_the_wrong_type_is_500(tmp_path: Path) -> None:
    source = """
        def output_fn(prediction, accept):
            return {"not": "bytes"}
    """
    rows, _ = digits_rows(1)
    error = failure(load(with_script(tmp_path, source)), json.dumps(rows).encode())
    assert error.status == 500
    assert "output_fn returned dict" in error.message


def test_toolkit_style_errors_keep_their_status(tmp_path: Path) -> None:
    source = """
        class GenericInferenceToolkitError(Exception):
            def __init__(self, status_code, message):
                super().__init__(message)
                self.status_code = status_code
                self.message = message

        def input_fn(body, content_type):
            raise GenericInferenceToolkitError(422, "not this kind of input")
    """
    error = failure(load(with_script(tmp_path, source)), b"[1]")
    assert (error.status, error.message) == (422, "not this kind of input")


# -- load failures ----------------------------------------------------------------------


def test_model_fn_raising_fails_to_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as caught:
        load(make_broken_model(tmp_path))
    assert str(caught.value) == f"model_fn failed: RuntimeError: {BROKEN_MESSAGE}"


def test_a_script_that_does_not_import_fails_to_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"code/inference.py failed to import: SyntaxError"):
        load(with_script(tmp_path, "def model_fn(:\n"))


def test_a_missing_script_fails_to_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"code/inference\.py does not exist"):
        load(make_sklearn_model(tmp_path))


def test_no_model_fn_and_no_model_file_fails_to_load(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("")
    with pytest.raises(ModelLoadError, match="defines no model_fn and no"):
        load(tmp_path)


def test_a_handler_with_the_wrong_arity_fails_to_load(tmp_path: Path) -> None:
    source = """
        def predict_fn(data):
            return data
    """
    with pytest.raises(ModelLoadError, match="predict_fn takes 1 arguments; it must take 2"):
        load(with_script(tmp_path, source))


def test_a_model_without_predict_needs_predict_fn(tmp_path: Path) -> None:
    source = """
        def model_fn(model_dir):
            return object()
    """
    with pytest.raises(ModelLoadError, match="define predict_fn"):
        load(with_script(tmp_path, source))
