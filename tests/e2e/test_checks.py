"""Prediction tests against a real `turnout serve`: `turnout check` passes a good digits
model and fails (exit 1) one trained on shuffled labels, with a JUnit file read the way CI
systems read it; `X-Turnout-Endpoint-Config` with TargetVariant reaches one config's
variant; a guarded deployment gated on a prediction test rolls back a bad green fleet
before any user request reaches it (counted from the metrics), and lets a good one go on."""

from __future__ import annotations

import csv
import json
import subprocess
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from tests.cli.conftest import one_error_line, plain
from tests.cli.test_commands import TURNOUT, turnout
from tests.conftest import Artifacts
from tests.e2e.test_deployments import canary, finished
from tests.support.endpoints import VariantOf, deploy_endpoint, poll_until
from tests.support.load import LoadProcess
from tests.support.models import train_digits
from turnout.cli.background import BackgroundServer
from turnout.client import Client, TurnoutAPIError, Variant

pytestmark = pytest.mark.e2e

NAME = "check-digits"


def make_shuffled_model(dest_dir: Path, seed: int = 0) -> Path:
    """The digits classifier trained on the training rows with their labels shuffled."""
    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=seed)
    estimator = LogisticRegression(max_iter=300, random_state=seed)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # noise has nothing to converge to
        estimator.fit(X_train, np.random.default_rng(seed).permutation(y_train))
    dest_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, dest_dir / "model.joblib")
    return dest_dir


def write_digits_csv(path: Path, rows: int | None = None) -> Path:
    """Held-out digits rows (columns p0..p63) and their true `label`."""
    digits = train_digits()
    X, y = digits.X_test[:rows], digits.y_test[:rows]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*(f"p{i}" for i in range(X.shape[1])), "label"])
        for row, label in zip(X, y, strict=True):
            writer.writerow([*(int(v) for v in row), int(label)])
    return path


@pytest.fixture(scope="module")
def shuffled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_shuffled_model(tmp_path_factory.mktemp("shuffled"))


@pytest.fixture(scope="module")
def endpoint(client: Client, artifacts: Artifacts, shuffled: Path) -> str:
    deploy_endpoint(
        client, NAME, [VariantOf("good", artifacts.sklearn), VariantOf("shuffled", shuffled)]
    )
    return NAME


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits_csv(tmp_path_factory.mktemp("data") / "digits.csv")


def check(server: BackgroundServer, *args: str) -> subprocess.CompletedProcess[str]:
    return turnout(server, "check", *args, ok=False)


def read_junit(path: Path) -> tuple[ET.Element, list[ET.Element]]:
    """The one testsuite of a JUnit file and its testcases, as CI reporters walk them."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return suite, suite.findall("testcase")


def test_a_good_model_passes(
    server: BackgroundServer, endpoint: str, digits_csv: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "good.xml"
    done = check(
        server, endpoint, "--data", str(digits_csv), "--variant", "good",
        "--min", "accuracy=0.9", "--min", "min_recall=0.8", "--junit", str(junit),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    out = plain(done.stdout)
    assert "PASS passed on variant good of endpoint check-digits, 450 rows" in out
    assert "recall:9" in out
    suite, cases = read_junit(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
    assert [c.get("name") for c in cases] == [
        "accuracy >= 0.9",
        "min_recall >= 0.8",
        "error_rate <= 0",
    ]
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert float(properties["metric.accuracy"] or 0) > 0.9
    assert properties["requests"] == "15"  # 450 rows, 32 a request


def test_a_model_trained_on_shuffled_labels_fails(
    server: BackgroundServer, endpoint: str, digits_csv: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "shuffled.xml"
    done = check(
        server, endpoint, "--data", str(digits_csv), "--variant", "shuffled",
        "--min", "accuracy=0.9", "--junit", str(junit), "--json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr + done.stdout
    report = json.loads(done.stdout)
    assert not report["passed"] and report["variants"] == {"shuffled": 450}
    assert report["metrics"]["accuracy"] < 0.3
    assert report["summary"].startswith("failed on variant shuffled of endpoint check-digits")
    suite, cases = read_junit(junit)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = cases[0].find("failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("accuracy = 0.")


def test_agreement_with_another_variant(
    server: BackgroundServer, endpoint: str, digits_csv: Path
) -> None:
    done = check(
        server, endpoint, "--data", str(digits_csv), "--variant", "good", "--compare", "good",
        "--min", "agreement=1", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metrics"]["agreement"] == 1.0
    done = check(
        server, endpoint, "--data", str(digits_csv), "--variant", "shuffled",
        "--compare", "good", "--min", "agreement=0.9", "--json",
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["metrics"]["agreement"] < 0.5
    assert len(report["disagreements"]) == 5


def test_errors_a_person_can_act_on(
    server: BackgroundServer, endpoint: str, digits_csv: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "missing.xml"
    done = check(server, "no-such-endpoint", "--data", str(digits_csv), "--junit", str(junit))
    assert done.returncode == 1
    assert "no-such-endpoint" in one_error_line(done.stderr)
    _, (case,) = read_junit(junit)
    assert case.find("error") is not None
    done = check(server, endpoint, "--data", str(digits_csv), "--variant", "nope")
    assert done.returncode == 1
    assert "The variant nope is not present in endpoint check-digits" in one_error_line(done.stderr)
    done = check(server, endpoint, "--data", str(tmp_path / "absent.csv"))
    assert done.returncode == 2
    assert "does not exist" in one_error_line(done.stderr)
    done = check(server, endpoint, "--data", str(digits_csv), "--max", "mae=1")
    assert done.returncode == 2
    assert "mae is a regression metric" in one_error_line(done.stderr)
    unreachable = subprocess.run(
        [*TURNOUT, "check", endpoint, "--data", str(digits_csv), "--url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unreachable.returncode == 1
    assert "cannot reach turnout" in one_error_line(unreachable.stderr)


def test_the_endpoint_config_header_picks_one_configs_variant(
    client: Client, endpoint: str
) -> None:
    row = [[float(v) for v in train_digits().X_test[0]]]
    config = f"{endpoint}-config"
    answer = client.invoke(endpoint, row, target_variant="good", endpoint_config=config)
    assert answer.variant == "good"
    with pytest.raises(TurnoutAPIError) as unknown:
        client.invoke(endpoint, row, target_variant="good", endpoint_config="other")
    assert unknown.value.code == "ValidationError"
    assert unknown.value.message == (
        "The variant good of endpoint config other is not present in endpoint check-digits."
    )
    with pytest.raises(TurnoutAPIError) as alone:
        client.invoke(endpoint, row, endpoint_config=config)
    assert alone.value.code == "ValidationError"
    assert "needs X-Amzn-SageMaker-Target-Variant" in alone.value.message


GATE_ROWS = 40


def gate_test(rows: int = GATE_ROWS) -> dict[str, object]:
    """A prediction test of `rows` held-out digits, one row per request."""
    digits = train_digits()
    return {
        "rows": [
            {"inputs": [float(v) for v in x], "expected": int(y)}
            for x, y in zip(digits.X_test[:rows], digits.y_test[:rows], strict=True)
        ],
        "min": {"accuracy": 0.9},
        "batch_size": 1,
    }


def invocations(client: Client, endpoint: str) -> dict[tuple[str, str], int]:
    """Invocations per (config, variant), from the metrics API."""
    summary = client.metrics_summary(endpoint, since=600)
    return {
        (v["config"], v["variant"]): int(v["metrics"].get("Invocations", {}).get("Sum", 0))
        for v in summary["variants"]
    }


def test_a_deployment_gated_on_a_failing_test_rolls_back_before_users_reach_green(
    client: Client, artifacts: Artifacts, shuffled: Path, server: BackgroundServer, tmp_path: Path
) -> None:
    name = "gated"
    deploy_endpoint(client, name, [VariantOf("A", artifacts.sklearn)])
    client.create_model(f"{name}-shuffled", str(shuffled))
    green = f"{name}-green"
    client.create_endpoint_config(green, [Variant("B", f"{name}-shuffled")])
    trace = tmp_path / "trace.jsonl"
    with LoadProcess(
        tmp_path / "load.json", server.url, name, concurrency=2, duration=120, trace=trace
    ) as load:
        load.wait_for(20)
        client.update_endpoint(name, green, canary(10), prediction_test=gate_test())
        deployment = finished(client, name)
        load.wait_for(load.snapshot().total + 20)  # blue serves on, alone
        result = load.stop()
    assert deployment["phase"] == "RolledBack", deployment
    kinds = [e["kind"] for e in deployment["events"]]
    assert kinds == ["started", "validating", "rolling-back", "rolled-back"], kinds
    reason = deployment["failure_reason"] or ""
    assert reason.startswith(
        f"Prediction test failed on variant B of {green} (endpoint {name}), {GATE_ROWS} rows: "
        "accuracy = 0."
    ), reason
    assert reason.endswith("wanted accuracy >= 0.9"), reason
    assert deployment["prediction_test"] == {
        "rows": GATE_ROWS, "min": {"accuracy": 0.9}, "max": {}, "task": None, "batch_size": 1,
        "timeout_s": 300.0,
    }  # fmt: skip
    endpoint = client.describe_endpoint(name)
    assert (endpoint["status"], endpoint["config"]) == ("InService", f"{name}-config")
    assert endpoint["failure_reason"] == reason
    # Every user request was answered, by blue; green got the test's rows and nothing else.
    assert result.failed == 0, result.describe()
    assert {variant for *_, variant in load.trace()} == {"A"}
    counts = poll_until(
        lambda: invocations(client, name),
        lambda c: c.get((green, "B"), 0) >= GATE_ROWS and c.get((f"{name}-config", "A"), 0) > 0,
        30, "invocations in the metrics",
    )  # fmt: skip
    assert counts[(green, "B")] == GATE_ROWS, counts
    assert counts[(f"{name}-config", "A")] >= result.total, counts
    print(f"gate: {result.total} user requests all on blue; green got {counts[(green, 'B')]}")


def test_a_deployment_whose_test_passes_goes_on_to_shift_traffic(
    client: Client, artifacts: Artifacts
) -> None:
    name = "gated-good"
    deploy_endpoint(client, name, [VariantOf("A", artifacts.sklearn)])
    client.create_model(f"{name}-green", str(artifacts.sklearn_slow_learner))
    client.create_endpoint_config(f"{name}-green", [Variant("B", f"{name}-green")])
    client.update_endpoint(name, f"{name}-green", canary(10, bake=1), prediction_test=gate_test())
    deployment = finished(client, name)
    assert deployment["phase"] == "Succeeded", deployment
    kinds = [e["kind"] for e in deployment["events"]]
    assert kinds[:3] == ["started", "validating", "shifted"], kinds
    assert deployment["events"][2]["message"].startswith(
        f"Prediction test passed on variant B of {name}-green"
    )


def test_a_test_that_could_never_pass_is_refused_up_front(client: Client, endpoint: str) -> None:
    test = gate_test(2)
    with pytest.raises(TurnoutAPIError) as refused:
        client.update_endpoint(
            endpoint, f"{endpoint}-config", canary(10), {**test, "max": {"mae": 1}}
        )
    assert refused.value.status == 400
    assert "mae is a regression metric" in refused.value.message
    with pytest.raises(TurnoutAPIError, match="gates a guarded deployment"):
        client.update_endpoint(endpoint, f"{endpoint}-config", prediction_test=test)
