"""The official SageMaker Python SDK against a real `turnout serve` and a moto S3 server.

The SDKs live in `.venv-sdk2` / `.venv-sdk3` (built by `python3 tests/sdk/venvs.py`, which
.ci/run calls). The tests run the scripts in tests/sdk/scripts/ unchanged with those
interpreters, in subprocesses, with the environment docs/sagemaker-sdk.md gives. Without a
venv they skip and say how to build it, unless TURNOUT_REQUIRE_SDK=1 (CI, after a
successful build) makes that a failure.

The scripts' environment also points HTTP(S)_PROXY at a closed port on 127.0.0.1, with only
127.0.0.1 exempt: a call the recipe failed to redirect (STS, telemetry, a model hub) fails
the test at once instead of leaving this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from tests.api.sagemaker.conftest import (
    clients,
    store_url,  # noqa: F401 (a fixture, used by name)
)
from tests.sdk import venvs
from tests.support.models import digits_rows, make_sklearn_model, make_tarball
from turnout.cli.background import BackgroundServer, free_port

REQUIRE_SDK_VAR = "TURNOUT_REQUIRE_SDK"
SCRIPTS = Path(__file__).resolve().parent / "scripts"
CONFIG = Path(__file__).resolve().parent / "sagemaker-config.yaml"
BUCKET = "sagemaker-turnout"  # the config's DefaultS3Bucket
REGION = "us-east-1"
# SDK v2 sleeps 30 s before each DescribeEndpoint while it waits for a deployment.
SCRIPT_TIMEOUT = 300


def sdk_python(sdk: str) -> Path:
    """The interpreter of `.venv-<sdk>`; skips (fails under TURNOUT_REQUIRE_SDK=1) if absent."""
    python = venvs.python_of(sdk)
    if python is None:
        message = f".venv-{sdk} is absent or stale: build it with `python3 tests/sdk/venvs.py`"
        if os.environ.get(REQUIRE_SDK_VAR) == "1":
            pytest.fail(f"{message} ({REQUIRE_SDK_VAR}=1)", pytrace=False)
        pytest.skip(message)
    return python


def recipe(turnout_url: str, s3_url: str) -> dict[str, str]:
    """What docs/sagemaker-sdk.md tells a user to export (test_doc.py checks the names)."""
    return {
        "AWS_ENDPOINT_URL_SAGEMAKER": turnout_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": turnout_url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": turnout_url,
        "AWS_ENDPOINT_URL_CLOUDWATCH": turnout_url,
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "moto",
        "AWS_SECRET_ACCESS_KEY": "moto",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(CONFIG),
        "SAGEMAKER_VALIDATE_ROLE": "false",
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }


def recipe_environment(turnout_url: str, s3_url: str, home: Path) -> dict[str, str]:
    """The recipe, and nothing of this machine's environment but PATH, plus guard rails."""
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: a stray call fails fast
    guard_rails = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # no ~/.aws or ~/.config/sagemaker of the machine's user
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    return {**recipe(turnout_url, s3_url), **guard_rails}


@dataclass(frozen=True)
class Ran:
    stdout: str
    stderr: str

    def result(self) -> Any:
        """The JSON object the script printed last (after the SDK's progress dots)."""
        last = self.stdout.strip().splitlines()[-1]
        return json.loads(last[last.index("{") :])


@dataclass(frozen=True)
class Sdk:
    """Runs a script of tests/sdk/scripts with one SDK against this module's servers."""

    python: Path
    env: dict[str, str]

    @classmethod
    def of(
        cls, sdk: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Sdk:
        """For a module's fixture: skips before any server starts when the venv is absent."""
        python = sdk_python(sdk)
        server: BackgroundServer = request.getfixturevalue("server")
        s3_url: str = request.getfixturevalue("store_url")
        return cls(python, recipe_environment(server.url, s3_url, tmp_path_factory.mktemp("home")))

    def run(self, script: str, cwd: Path, timeout: float = SCRIPT_TIMEOUT) -> Ran:
        done = subprocess.run(
            [str(self.python), str(SCRIPTS / script)],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        output = done.stdout + done.stderr
        log = cwd / f"{script}.log"  # the whole of it: SDK tracebacks are long
        log.write_text(output)
        tail = "\n".join(output.strip().splitlines()[-60:])
        assert done.returncode == 0, f"{script} exited {done.returncode} (all in {log}):\n{tail}"
        return Ran(done.stdout, done.stderr)


@pytest.fixture(scope="module")
def server_args(store_url: str) -> Iterator[tuple[str, ...]]:  # noqa: F811
    with pytest.MonkeyPatch.context() as env:  # inherited by the `turnout serve` child
        env.setenv("TURNOUT_S3_ACCESS_KEY_ID", "moto")
        env.setenv("TURNOUT_S3_SECRET_ACCESS_KEY", "moto")
        yield ("--s3-endpoint-url", store_url)


@pytest.fixture(scope="module")
def s3(store_url: str) -> Any:  # noqa: F811
    """boto3 S3 on moto, with the SDK's default bucket made (as the SDK would make it)."""
    client = boto3.client("s3", endpoint_url=store_url, region_name=REGION,
                          aws_access_key_id="moto", aws_secret_access_key="moto")  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    return client


# What a user writes next to a model.tar.gz that holds only model.joblib (as a training job
# leaves it): predict_fn answers probabilities, so the test sees that this code ran rather
# than turnout's plain scikit-learn flavor (which answers labels).
INFERENCE_PY = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(input_data, model):
    return model.predict_proba(input_data)
"""


def sklearn_work_dir(s3: Any, root: Path) -> tuple[Path, list[int]]:
    """A user's directory: code/inference.py and rows.json; model.tar.gz (model.joblib only,
    as a training job leaves it) on S3 at digits/model.tar.gz. Returns it and the labels."""
    model = make_tarball(make_sklearn_model(root / "model"), root / "model.tar.gz")
    s3.upload_file(str(model), BUCKET, "digits/model.tar.gz")
    work = root / "work"
    (work / "code").mkdir(parents=True)
    (work / "code" / "inference.py").write_text(INFERENCE_PY)
    rows, labels = digits_rows(5)
    (work / "rows.json").write_text(json.dumps(rows))
    return work, labels


def assert_probabilities_of(predictions: Any, labels: list[int]) -> None:
    probabilities = np.asarray(predictions)
    assert probabilities.shape == (len(labels), 10), "inference.py's predict_fn did not answer"
    assert probabilities.argmax(axis=1).tolist() == labels


def assert_all_deleted(server: BackgroundServer) -> None:
    """The script cleaned up after itself: no endpoint, config or model is left."""
    sm = clients(server.url)[0]
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
