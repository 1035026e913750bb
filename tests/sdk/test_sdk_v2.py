"""SageMaker Python SDK v2 (2.257), unchanged, against turnout: SKLearnModel with an
entry_point, and the classic two-variant A/B notebook with its CloudWatch metrics. Each
deploy sits through the SDK's 30 s describe poll (docs/sagemaker-sdk.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sdk.conftest import (
    BUCKET,
    Sdk,
    assert_all_deleted,
    assert_probabilities_of,
    sklearn_work_dir,
)
from tests.support.models import make_tarball, make_xgboost_model, train_xgboost
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sdk2(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Sdk:
    return Sdk.of("sdk2", request, tmp_path_factory)


def test_sklearn_model_with_an_entry_point_deploys_predicts_and_deletes(
    sdk2: Sdk, s3: Any, server: BackgroundServer, tmp_path: Path
) -> None:
    work, labels = sklearn_work_dir(s3, tmp_path)

    result = sdk2.run("v2_sklearn_entry_point.py", work).result()

    assert_probabilities_of(result["predictions"], labels)
    assert_all_deleted(server)


def test_the_ab_notebook_targets_each_variant_then_shifts_all_traffic(
    sdk2: Sdk, s3: Any, server: BackgroundServer, tmp_path: Path
) -> None:
    model = make_tarball(make_xgboost_model(tmp_path / "xgb"), tmp_path / "model.tar.gz")
    for key in ("model1", "model2"):
        s3.upload_file(str(model), BUCKET, f"ab/{key}/model.tar.gz")
    work = tmp_path / "work"
    work.mkdir()
    rows = train_xgboost().X_test[:20]
    (work / "test.csv").write_text("\n".join(",".join(map(str, row)) for row in rows))

    result = sdk2.run("v2_ab_notebook.py", work).result()

    assert result["targeted"] == {"Variant1": "Variant1", "Variant2": "Variant2"}
    assert result["weights"] == {"Variant1": 0.0, "Variant2": 1.0}
    assert result["after_shift"] == {"Variant2": len(rows)}
    # CloudWatch's per-variant Sum counts every request the script sent, as the notebook plots
    assert result["invocations"] == {"Variant1": 1, "Variant2": 1 + len(rows)}
    assert_all_deleted(server)
