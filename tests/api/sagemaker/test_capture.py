"""Data capture end to end: boto3 configures it, a real `turnout serve` writes SageMaker's
records; sampling follows the percentage; a destination that breaks mid-run stops capture
(and says so) while every invocation still succeeds."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binom

from tests.support.capture import check_path, check_record, read_records
from tests.support.endpoints import poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client

from .conftest import Tarballs
from .test_lifecycle import FAST, variant

pytestmark = pytest.mark.e2e

ROWS, LABELS = digits_rows(2)
BODY = json.dumps(ROWS)


def capture_config(destination: Path, percent: int) -> dict[str, Any]:
    return {
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": destination.as_uri(),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }


@pytest.fixture(scope="module")
def model(sm: Any, tarballs: Tarballs) -> str:
    sm.create_model(ModelName="cap-m", PrimaryContainer={"ModelDataUrl": tarballs.url("sklearn")})
    return "cap-m"


def capturing_endpoint(sm: Any, model: str, name: str, destination: Path, percent: int) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant("A", model, 1)],
        DataCaptureConfig=capture_config(destination, percent),
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)


def records_settled(root: Path, client: Client, endpoint: str) -> list[Any]:
    """The records on disk once they are all there: as many as the writer counted, twice."""

    def read() -> tuple[int, int]:
        on_disk = sum(len(r) for r in read_records(root).values()) if root.exists() else 0
        return on_disk, client.describe_endpoint(endpoint)["data_capture"]["captured"]

    def settled(counts: tuple[int, int]) -> bool:
        if counts[0] != counts[1]:
            return False
        time.sleep(0.5)  # longer than the writer's interval: nothing more arrives
        return read() == counts

    poll_until(read, settled, 30, "capture files complete")
    return [r for records in read_records(root).values() for r in records]


def test_every_invocation_is_captured_in_sagemakers_format(
    sm: Any, rt: Any, model: str, client: Client, tmp_path: Path
) -> None:
    root = tmp_path / "capture"
    capturing_endpoint(sm, model, "cap-all", root, 100)
    described = sm.describe_endpoint_config(EndpointConfigName="cap-all")["DataCaptureConfig"]
    assert described == {"EnableCapture": True, **capture_config(root, 100)}
    summary = sm.describe_endpoint(EndpointName="cap-all")["DataCaptureConfig"]
    assert summary == {"EnableCapture": True, "CaptureStatus": "Started",
                       "CurrentSamplingPercentage": 100, "DestinationS3Uri": root.as_uri(),
                       "KmsKeyId": ""}  # fmt: skip

    sent = [f"req-{i}" for i in range(40)]
    for inference_id in sent:
        answer = rt.invoke_endpoint(EndpointName="cap-all", ContentType="application/json",
                                    Body=BODY, InferenceId=inference_id)  # fmt: skip
        assert json.loads(answer["Body"].read()) == LABELS
    csv = ",".join(str(v) for v in ROWS[0])  # text/csv is not in JsonContentTypes: base64
    rt.invoke_endpoint(EndpointName="cap-all", ContentType="text/csv", Body=csv)
    records = records_settled(root / "cap-all", client, "cap-all")

    for path in read_records(root):
        check_path(path, root, "cap-all", "A")
    for record in records:
        check_record(record)
    by_id = {r["eventMetadata"].get("inferenceId"): r["captureData"] for r in records}
    assert len(records) == len(sent) + 1  # one record per invocation
    assert set(by_id) == {*sent, None}
    data = by_id["req-7"]
    assert data["endpointInput"] == {"observedContentType": "application/json",
                                     "mode": "INPUT", "data": BODY, "encoding": "JSON"}  # fmt: skip
    assert json.loads(data["endpointOutput"]["data"]) == LABELS
    assert by_id[None]["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT",
                                            "data": base64.b64encode(csv.encode()).decode(),
                                            "encoding": "BASE64"}  # fmt: skip
    assert len({r["eventMetadata"]["eventId"] for r in records}) == len(records)


def test_sampling_follows_the_percentage(
    sm: Any, model: str, client: Client, server: BackgroundServer, tmp_path: Path
) -> None:
    root = tmp_path / "capture"
    capturing_endpoint(sm, model, "cap-30", root, 30)
    with LoadProcess(tmp_path / "load.json", server.url, "cap-30", requests=2000,
                     concurrency=4, duration=120) as load:  # fmt: skip
        result = load.finish()
    assert result.failed == 0 and result.ok == 2000
    records = records_settled(root / "cap-30", client, "cap-30")
    low, high = binom.interval(0.999, result.ok, 0.30)
    assert low <= len(records) <= high, (len(records), low, high)
    assert client.describe_endpoint("cap-30")["data_capture"]["dropped"] == 0


def test_a_broken_destination_stops_capture_and_the_endpoint_keeps_serving(
    sm: Any, model: str, client: Client, server: BackgroundServer, tmp_path: Path
) -> None:
    root = tmp_path / "capture"
    capturing_endpoint(sm, model, "cap-full", root, 100)
    with LoadProcess(tmp_path / "load.json", server.url, "cap-full", requests=3000,
                     concurrency=4, duration=120) as load:  # fmt: skip
        load.wait_for(300)
        poll_until(lambda: (root / "cap-full").exists(), bool, 10, "first capture file")
        # What a full disk does to the writer, as root too: its next write fails (a
        # regular file where its directory was; chmod would not stop root).
        # Renamed away, not removed: rmtree would race with the writer adding files.
        (root / "cap-full").rename(root / "moved")
        (root / "cap-full").write_text("not a directory")
        status = poll_until(
            lambda: client.describe_endpoint("cap-full")["data_capture"],
            lambda s: s["status"] == "Stopped",
            30,
            "capture stopped",
        )
        before = load.wait_for(load.snapshot().total + 300)
        result = load.finish()
    assert before.failed == 0 and result.failed == 0 and result.ok == 3000
    assert status["reason"].startswith("Data capture stopped: writing ")
    assert status["write_errors"] >= 1
    described = sm.describe_endpoint(EndpointName="cap-full")
    assert described["EndpointStatus"] == "InService"
    assert described["DataCaptureConfig"]["CaptureStatus"] == "Stopped"
