"""SageMaker script mode: SAGEMAKER_SUBMIT_DIRECTORY becomes the model's code/."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.models import (
    digits_rows,
    make_sklearn_model,
    make_source_dir,
    make_tarball,
)
from turnout.domain.resources import Model
from turnout.models import registry
from turnout.models.artifact import ArtifactError, detect_flavor, inspect_artifact, prepare
from turnout.models.flavors.inference import InferenceHandlers
from turnout.models.layout import submit_directory
from turnout.models.runtime import Call
from turnout.models.s3 import S3Source
from turnout.models.submit import localize_code

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def script_mode(artifact: Path, submit: str, program: str = "inference.py") -> Model:
    """A model as SKLearnModel(entry_point=...).deploy() creates it."""
    environment = {"SAGEMAKER_SUBMIT_DIRECTORY": submit, "SAGEMAKER_PROGRAM": program}
    return Model(
        name="m", artifact=str(artifact), flavor=registry.of_image(SKLEARN_IMAGE),
        environment=environment, image=SKLEARN_IMAGE,
    )  # fmt: skip


def ready(model: Model, tmp_path: Path) -> Path:
    code = localize_code(model, tmp_path / "downloads", S3Source())
    prepared = prepare(model, tmp_path / "cache", code)
    assert prepared.flavor == "inference"
    return prepared.path


def answer(model_dir: Path, environment: dict[str, str]) -> None:
    """The handlers of the submitted code answer with the model's labels."""
    handlers = InferenceHandlers.load(model_dir, environment)
    rows, labels = digits_rows(2)
    call = Call(body=json.dumps(rows).encode(), content_type="application/json")
    prediction = handlers.encode(call, handlers.predict(handlers.decode(call)))
    assert json.loads(prediction.body) == labels


def test_the_sklearn_image_names_the_sklearn_flavor() -> None:
    assert registry.of_image(SKLEARN_IMAGE) == "sklearn"


@pytest.mark.parametrize("packed", [True, False])
def test_a_source_tarball_or_directory_is_the_models_code(tmp_path: Path, packed: bool) -> None:
    artifact = make_tarball(make_sklearn_model(tmp_path / "model"), tmp_path / "model.tar.gz")
    source = make_source_dir(tmp_path / "src")
    if packed:
        source = make_tarball(source, tmp_path / "sourcedir.tar.gz")
    model = script_mode(artifact, source.as_uri())
    model_dir = ready(model, tmp_path)
    assert sorted(p.name for p in model_dir.iterdir()) == ["code", "model.joblib"]
    answer(model_dir, dict(model.environment))
    assert ready(model, tmp_path) == model_dir  # built once


def test_the_submit_directory_replaces_the_artifacts_code(tmp_path: Path) -> None:
    model_dir = make_sklearn_model(tmp_path / "model")
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text("raise SystemExit('not this one')\n")
    source = make_tarball(make_source_dir(tmp_path / "src"), tmp_path / "sourcedir.tar.gz")
    model = script_mode(model_dir, str(source))  # a plain local path works too
    answer(ready(model, tmp_path), dict(model.environment))
    assert (model_dir / "code" / "inference.py").read_text().startswith("raise")  # untouched


def test_code_already_in_the_model_is_not_fetched() -> None:
    assert submit_directory({"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}) is None
    assert submit_directory({"SAGEMAKER_SUBMIT_DIRECTORY": " "}) is None
    assert submit_directory({}) is None
    url = "s3://b/k/sourcedir.tar.gz"
    assert submit_directory({"SAGEMAKER_SUBMIT_DIRECTORY": url}) == url


def test_without_a_program_the_sklearn_image_serves_the_estimator(tmp_path: Path) -> None:
    model_dir = make_sklearn_model(tmp_path / "model")
    model = Model(name="m", artifact=str(model_dir), flavor=registry.of_image(SKLEARN_IMAGE))
    assert prepare(model, tmp_path / "cache").flavor == "sklearn"


def test_registration_trusts_the_submit_directory_for_the_script(tmp_path: Path) -> None:
    model_dir = make_sklearn_model(tmp_path / "model")
    model = script_mode(model_dir, "s3://bucket/code/sourcedir.tar.gz")
    assert inspect_artifact(model).flavor == "inference"


def test_an_entry_point_missing_from_the_source_says_what_to_set(tmp_path: Path) -> None:
    model_dir = make_sklearn_model(tmp_path / "model")
    source = make_tarball(make_source_dir(tmp_path / "src"), tmp_path / "sourcedir.tar.gz")
    model = script_mode(model_dir, source.as_uri(), program="serve.py")
    with pytest.raises(ArtifactError) as caught:
        ready(model, tmp_path)
    assert str(caught.value) == (
        f"SAGEMAKER_PROGRAM names serve.py, which is not at the root of "
        f"SAGEMAKER_SUBMIT_DIRECTORY {source.as_uri()}: set SAGEMAKER_PROGRAM to the entry "
        "point's path inside it"
    )
    assert not list((tmp_path / "cache").iterdir())  # nothing half-built is kept


def test_a_source_that_is_not_a_tarball_says_so(tmp_path: Path) -> None:
    source = tmp_path / "sourcedir.tar.gz"
    source.write_text("not gzip")
    model = script_mode(make_sklearn_model(tmp_path / "model"), source.as_uri())
    with pytest.raises(ArtifactError, match=r"^SAGEMAKER_SUBMIT_DIRECTORY file://.* is neither"):
        ready(model, tmp_path)


def test_a_missing_local_source_says_so(tmp_path: Path) -> None:
    url = (tmp_path / "absent.tar.gz").as_uri()
    model = script_mode(make_sklearn_model(tmp_path / "model"), url)
    with pytest.raises(ArtifactError) as caught:
        ready(model, tmp_path)
    assert str(caught.value) == f"SAGEMAKER_SUBMIT_DIRECTORY {url} does not exist"


@pytest.mark.parametrize(
    "image", [SKLEARN_IMAGE, "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"]
)
def test_framework_images_run_the_program_in_script_mode(tmp_path: Path, image: str) -> None:
    model_dir = make_sklearn_model(tmp_path / "model")
    flavor = registry.of_image(image)
    plain = Model(name="m", artifact=str(model_dir), flavor=flavor, image=image)
    program = {"SAGEMAKER_PROGRAM": "inference.py"}
    with pytest.raises(ArtifactError, match=r"SAGEMAKER_PROGRAM names code/inference\.py"):
        detect_flavor(model_dir, replace(plain, environment=program))
    make_source_dir(model_dir / "code")
    assert detect_flavor(model_dir, replace(plain, environment=program)) == "inference"


def test_a_source_larger_than_the_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_tarball(make_source_dir(tmp_path / "src"), tmp_path / "sourcedir.tar.gz")
    monkeypatch.setattr("turnout.models.artifact.MAX_CODE_BYTES", 100)
    model = script_mode(make_sklearn_model(tmp_path / "model"), source.as_uri())
    with pytest.raises(ArtifactError, match=r"unpacks to \d+ bytes, more than the 100"):
        ready(model, tmp_path)
