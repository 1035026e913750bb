"""perfkit's deploy script (shared/perfkit/turnout_deploy.py) works unchanged against turnout."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support.models import digits_rows, make_sklearn_model
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

PERFKIT = Path(__file__).resolve().parents[4] / "shared" / "perfkit"


def perfkit_tarball(root: Path) -> Path:
    """Laid out as perfkit's train_models.py writes it: model.joblib + code/inference.py."""
    model = make_sklearn_model(root / "model")
    path = root / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for arcname, source in (
            ("model.joblib", model / "model.joblib"),
            ("code/inference.py", PERFKIT / "inference.py"),
        ):
            data = source.read_bytes()
            info = tarfile.TarInfo(arcname)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.skipif(not (PERFKIT / "turnout_deploy.py").exists(), reason="no shared/perfkit")
@pytest.mark.parametrize("image", ["turnout/sklearn", "some/other-image"])
def test_turnout_deploy_script(server: BackgroundServer, tmp_path: Path, image: str) -> None:
    rows, labels = digits_rows(1)
    body = tmp_path / "row.json"
    body.write_text(json.dumps(rows[0]))
    name = "perfkit-" + image.replace("/", "-")
    done = subprocess.run(
        [sys.executable, str(PERFKIT / "turnout_deploy.py"), "--endpoint-url", server.url,
         "--name", name, "--model-data-url", perfkit_tarball(tmp_path).as_uri(),
         "--image", image, "--body-file", str(body), "--timeout", "60"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    line = next(
        (x for x in done.stdout.splitlines() if x.startswith("PERFKIT_DEPLOY ")), done.stderr
    )
    result = json.loads(line.removeprefix("PERFKIT_DEPLOY "))
    assert result["ok"], result
    assert json.loads(result["invoke_body"]) == labels
    assert result["invoke_variant"] == "AllTraffic"
    assert result["variants"] == [
        {"VariantName": "AllTraffic", "CurrentInstanceCount": 1, "CurrentWeight": 1.0}
    ]
