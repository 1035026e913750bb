from __future__ import annotations

import pytest

from turnout.models import registry
from turnout.models.registry import Flavor


def test_every_flavor_module_registers_itself_in_rank_order() -> None:
    names = registry.names()
    assert names[0] == "auto"
    assert {"sklearn", "inference", "command", "onnx", "xgboost", "mlflow"} <= set(names)
    ranks = [f.rank for f in registry.flavors()]
    assert ranks == sorted(ranks)
    assert registry.get("command").load is None  # its instances are the model's own program
    assert registry.get("sklearn").load is not None


def test_a_name_registers_once() -> None:
    sklearn = registry.get("sklearn")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(sklearn)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Flavor("auto", "", 0, sklearn.detect, sklearn.explain, None))


def test_images_name_flavors() -> None:
    assert registry.of_image("turnout/sklearn") == "sklearn"
    assert registry.of_image("localhost:5000/turnout/sklearn:1.2") == "sklearn"
    assert registry.of_image("turnout/inference@sha256:abc") == "inference"
    assert registry.of_image("123.dkr.ecr.us-east-1.amazonaws.com/sklearn-inference:1.2-1") == (
        "auto"
    )
    assert registry.of_image("myturnout/sklearn") == "auto"
    ecr = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
    assert registry.of_image(f"{ecr}/sagemaker-xgboost:1.7-1") == "xgboost"
    assert registry.of_image("turnout/xgboost") == "xgboost"
    assert registry.of_image("turnout/onnx:1") == "onnx"
    assert registry.of_image("turnout/mlflow") == "mlflow"
    assert registry.of_image(None) == "auto"
