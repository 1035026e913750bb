"""Drift monitoring end to end (ADR 0041) against a real `turnout serve` with a 2-s monitor
period: a baseline from a training CSV; captured traffic like the training data raises no
violation; traffic with feature x1 shifted by one standard deviation is flagged on x1 alone;
its `feature_baseline_drift_x1` crosses a CloudWatch alarm (put with boto3), and a
blue/green UpdateEndpoint guarded by that alarm rolls back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import joblib
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression

from tests.dashboard.conftest import SHOTS, browser  # noqa: F401 (a fixture)
from tests.support.endpoints import finished, poll_until
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

NAME = "drifty"
STD = (1.0, 2.0, 0.5)
MEAN = (0.0, 10.0, -3.0)
BOTO = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)
FAST = {"Delay": 0.25, "MaxAttempts": 240}


def sample(n: int, seed: int, shift: float = 0.0) -> list[list[float]]:
    """Rows of three normal features; x1 moved by `shift` standard deviations."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        row = [rng.gauss(m, s) for m, s in zip(MEAN, STD, strict=True)]
        row[1] += shift * STD[1]
        out.append(row)
    return out


def csv_of(rows: list[list[float]]) -> str:
    return "".join(",".join(f"{v:.5f}" for v in r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--monitor-period", "2", "--monitor-window", "6")


@pytest.fixture(scope="module")
def aws(server: BackgroundServer) -> dict[str, Any]:
    options = {
        "endpoint_url": server.url, "region_name": "us-east-1", "aws_access_key_id": "k",
        "aws_secret_access_key": "s", "config": BOTO,
    }  # fmt: skip
    return {s: boto3.client(s, **options) for s in ("sagemaker", "cloudwatch")}  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = sample(500, seed=0)
    estimator = LogisticRegression().fit(rows, [int(r[0] > 0) for r in rows])
    path = tmp_path_factory.mktemp("drift-model")
    joblib.dump(estimator, path / "model.joblib")
    return path


def config(sm: Any, name: str, model_dir: Path, capture: Path) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"ModelDataUrl": model_dir.as_uri()})
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{
            "VariantName": "A", "ModelName": name, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0,
        }],
        DataCaptureConfig={
            "InitialSamplingPercentage": 100, "DestinationS3Uri": capture.as_uri(),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    )  # fmt: skip


class Traffic:
    """CSV invocations of 20 rows each from a thread until stopped (counting failures)."""

    def __init__(self, url: str, shift: float, seed: int) -> None:
        self._url, self._shift, self._seed = f"{url}/endpoints/{NAME}/invocations", shift, seed
        self._stop = threading.Event()
        self.sent = self.failed = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                body = csv_of(sample(20, self._seed + self.sent, self._shift))
                answer = http.post(self._url, content=body, headers={"Content-Type": "text/csv"})
                self.sent += 1
                self.failed += answer.status_code != 200
                time.sleep(0.05)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)


def report_after(client: Client, since: float, rows: int) -> dict[str, Any]:
    """The newest drift report computed after `since` over at least `rows` rows (bounded)."""

    def newest() -> list[dict[str, Any]]:
        return client.drift_reports(NAME, since=since, limit=1)

    found = poll_until(newest, lambda r: bool(r) and r[0]["rows"] >= rows, 30, "a drift report")
    return found[0]


def test_drift_is_flagged_on_the_shifted_feature_and_rolls_a_deployment_back(
    server: BackgroundServer, client: Client, aws: dict[str, Any], model_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    sm, cw = aws["sagemaker"], aws["cloudwatch"]
    capture = tmp_path / "capture"
    config(sm, f"{NAME}-blue", model_dir, capture)
    config(sm, f"{NAME}-green", model_dir, capture)
    sm.create_endpoint(EndpointName=NAME, EndpointConfigName=f"{NAME}-blue")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=NAME, WaiterConfig=FAST)
    training = tmp_path / "train.csv"
    training.write_text("x0,x1,x2\n" + csv_of(sample(3000, seed=1)))
    cli = [sys.executable, "-m", "turnout.cli.main", "monitor"]
    made = subprocess.run(
        [*cli, "baseline", NAME, "--data", str(training), "--url", server.url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "baseline of drifty: 3000 rows" in made.stdout
    exported = subprocess.run(
        [*cli, "show", NAME, "--statistics", str(tmp_path / "statistics.json"), "--url",
         server.url], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    stats = json.loads((tmp_path / "statistics.json").read_text())
    assert [f["name"] for f in stats["features"]] == ["x0", "x1", "x2"]
    x1_mean = stats["features"][1]["numerical_statistics"]["mean"]
    assert abs(x1_mean - MEAN[1]) < 0.2

    # Traffic like the training data: reports, no violation.
    with Traffic(server.url, shift=0.0, seed=1000) as calm:
        start = time.time()
        poll_until(lambda: calm.sent, lambda n: n >= 20, 30, "calm traffic")
        calm_report = report_after(client, start + 6.0, rows=200)
    assert calm.failed == 0
    assert calm_report["violations"] == [], calm_report
    assert set(calm_report["predictions"]) <= {"0", "1"} and calm_report["predictions"]

    cw.put_metric_alarm(
        AlarmName=f"{NAME}-x1", Namespace="aws/sagemaker/Endpoints/data-metrics",
        MetricName="feature_baseline_drift_x1",
        Dimensions=[{"Name": "Endpoint", "Value": NAME},
                    {"Name": "MonitoringSchedule", "Value": f"{NAME}-schedule"}],
        Statistic="Maximum", Period=10, EvaluationPeriods=1, Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip
    with pytest.raises(ClientError, match=r"InvalidParameterValue.*drift/reports"):
        cw.get_metric_statistics(
            Namespace="aws/sagemaker/Endpoints/data-metrics",
            MetricName="feature_baseline_drift_x1",
            Dimensions=[{"Name": "Endpoint", "Value": NAME}],
            StartTime=time.time() - 60, EndTime=time.time(), Period=10, Statistics=["Maximum"],
        )  # fmt: skip
    alarm = cw.describe_alarms(AlarmNames=[f"{NAME}-x1"])["MetricAlarms"][0]
    assert alarm["MetricName"] == "feature_baseline_drift_x1"
    assert alarm["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"

    # x1 one std off: flagged alone; the alarm fires during the canary bake; rolled back.
    with Traffic(server.url, shift=1.0, seed=5000) as shifted:
        sm.update_endpoint(
            EndpointName=NAME, EndpointConfigName=f"{NAME}-green",
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY", "WaitIntervalInSeconds": 30,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                    },
                    "TerminationWaitInSeconds": 0,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": f"{NAME}-x1"}]},
            },
        )  # fmt: skip
        deployment = finished(client, NAME)
    assert shifted.failed == 0
    assert deployment["phase"] == "RolledBack", deployment
    assert f"{NAME}-x1" in (deployment["failure_reason"] or "")
    drifted = [r for r in client.drift_reports(NAME, limit=500) if r["violations"]]
    assert drifted and all(r["violations"] == ["x1"] for r in drifted), drifted
    x1 = {f["name"]: f for f in drifted[0]["features"]}["x1"]
    assert x1["distance"] > 0.2 and x1["violations"] == ["baseline_drift_check"]
    described = sm.describe_endpoint(EndpointName=NAME)
    assert described["EndpointConfigName"] == f"{NAME}-blue"
    state = cw.describe_alarms(AlarmNames=[f"{NAME}-x1"])["MetricAlarms"][0]["StateValue"]
    assert state == "ALARM"
    shown = subprocess.run(
        [*cli, "reports", NAME, "--url", server.url], capture_output=True, text=True,
        timeout=60, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "drifty / A" in shown.stdout and "predictions: " in shown.stdout
    # The same numbers on the dashboard and in Prometheus.
    page = httpx.get(f"{server.url}/dashboard/api/endpoints/{NAME}", timeout=10).json()
    assert [f["name"] for f in page["drift"][0]["features"]] == ["x0", "x1", "x2"]
    assert page["alarms"][0]["metric"] == "feature_baseline_drift_x1"
    scraped = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'feature_baseline_drift_x1{endpoint="drifty",variant="A"}' in scraped


def test_the_dashboard_charts_each_features_drift(
    server: BackgroundServer, request: pytest.FixtureRequest
) -> None:
    """After the test above (same module, same server): the endpoint page draws a bar per
    feature, the shifted one outlined as a violation. Chromium as the dashboard tests use it
    (their `browser` fixture: skips, saying why, where Chromium is absent)."""
    reports = httpx.get(f"{server.url}/dashboard/api/endpoints/{NAME}", timeout=10).json()["drift"]
    assert reports, "no drift report: the test above must have run first on this server"
    page = request.getfixturevalue("browser").new_page()
    try:
        page.goto(f"{server.url}/dashboard/endpoints/{NAME}")
        chart = page.get_by_test_id("chart-drift")
        poll_until(
            lambda: int(chart.get_attribute("data-updates") or 0), lambda n: n >= 1, 15,
            "the drift chart drawn",
        )  # fmt: skip
        assert page.locator("#problem").inner_text() == ""
        traces = page.evaluate(
            "document.getElementById('chart-drift').data"
            ".map((t) => ({x: t.x, widths: t.marker.line.width}))"
        )
        assert [t["x"] for t in traces] == [["x0", "x1", "x2"]] * len(traces)
        outlined = {x for t in traces for x, w in zip(t["x"], t["widths"], strict=True) if w}
        assert outlined == {"x1"}, traces
        page.screenshot(path=str(SHOTS / "drift.png"), full_page=True)
    finally:
        page.close()
