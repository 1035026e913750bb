from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.models import (
    make_faulty_model,
    make_inference_model,
    make_sklearn_model,
)


@pytest.fixture(scope="session")
def sklearn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sklearn_model(tmp_path_factory.mktemp("sklearn"))


@pytest.fixture(scope="session")
def inference_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_inference_model(tmp_path_factory.mktemp("inference"))


@pytest.fixture(scope="session")
def faulty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_faulty_model(tmp_path_factory.mktemp("faulty"))
