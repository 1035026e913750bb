"""SageMaker Python SDK v3 (3.27), unchanged, against turnout: ModelBuilder with SageMaker's
scikit-learn image, a model.tar.gz on S3 and source code (repacked into the model by
build()), deployed with SAGEMAKER_VALIDATE_ROLE=false and an explicit role ARN. deploy()
tails the endpoint's CloudWatch Logs (FilterLogEvents) while it waits, 30 s a poll."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sdk.conftest import Sdk, assert_all_deleted, assert_probabilities_of, sklearn_work_dir
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sdk3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Sdk:
    return Sdk.of("sdk3", request, tmp_path_factory)


def test_model_builder_builds_deploys_invokes_and_deletes(
    sdk3: Sdk, s3: Any, server: BackgroundServer, tmp_path: Path
) -> None:
    work, labels = sklearn_work_dir(s3, tmp_path)

    result = sdk3.run("v3_model_builder.py", work).result()

    assert result["endpoint"] == "digits-v3"
    assert_probabilities_of(result["predictions"], labels)
    assert_all_deleted(server)
