"""DataCaptureConfig validation and round trips, on both facades (no endpoint needed)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import Artifacts
from turnout.cli.background import BackgroundServer
from turnout.client import Client, TurnoutAPIError, Variant

from .conftest import ACCESS_KEY, CONFIG, REGION, SECRET_KEY
from .test_errors import error_of
from .test_lifecycle import variant

pytestmark = pytest.mark.e2e

GOOD = {
    "InitialSamplingPercentage": 20,
    "DestinationS3Uri": "s3://bucket/prefix",
    "CaptureOptions": [{"CaptureMode": "Input"}],
}


@pytest.fixture(scope="module")
def unchecked(server: BackgroundServer) -> Any:
    """A sagemaker client that sends what boto3 itself would refuse, to test the server."""
    config = CONFIG.merge(Config(parameter_validation=False))
    return boto3.client("sagemaker", endpoint_url=server.url, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=config)  # fmt: skip


@pytest.fixture(scope="module")
def model(sm: Any, client: Client, artifacts: Artifacts) -> str:
    client.create_model("capcfg-m", str(artifacts.sklearn))
    return "capcfg-m"


def create(sm: Any, model: str, name: str, capture: dict[str, Any]) -> Any:
    return sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant("A", model, 1)],
        DataCaptureConfig=capture,
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"InitialSamplingPercentage": 101}, "less than or equal to 100"),
        ({"CaptureOptions": [{"CaptureMode": "Everything"}]}, "enum value set"),
        ({"CaptureOptions": []}, "length greater than or equal to 1"),
        ({"DestinationS3Uri": "relative/dir"}, "regular expression pattern"),
        ({"DestinationS3Uri": "file://host/dir"}, "file:///dir or an absolute directory"),
        ({"CaptureContentTypeHeader": {"CsvContentTypes": ["csv"]}}, "regular expression"),
    ],
)
def test_sagemaker_refuses_what_sagemaker_refuses(
    unchecked: Any, model: str, change: dict[str, Any], words: str
) -> None:
    capture = {**GOOD, **change}
    error = error_of(create, sm=unchecked, model=model, name="capcfg-bad", capture=capture)
    assert error["Code"] == "ValidationException"
    assert words in error["Message"], error["Message"]


def test_both_facades_show_the_config_back(sm: Any, client: Client, model: str) -> None:
    create(sm, model, "capcfg-sm", {**GOOD, "EnableCapture": False, "KmsKeyId": "alias/k"})
    assert sm.describe_endpoint_config(EndpointConfigName="capcfg-sm")["DataCaptureConfig"] == {
        **GOOD, "EnableCapture": False, "KmsKeyId": "alias/k"
    }  # fmt: skip
    native = client.describe_endpoint_config("capcfg-sm")["data_capture"]
    assert native is not None
    assert (native["destination"], native["sampling_percentage"]) == ("s3://bucket/prefix", 20)
    assert (native["capture_input"], native["capture_output"], native["enabled"]) == (
        True, False, False
    )  # fmt: skip

    client.create_endpoint_config("capcfg-rest", [Variant("A", model)], data_capture={
        "destination": "/var/capture", "sampling_percentage": 5,
        "csv_content_types": ["text/csv"]})  # fmt: skip
    shown = sm.describe_endpoint_config(EndpointConfigName="capcfg-rest")["DataCaptureConfig"]
    assert shown == {
        "EnableCapture": True, "InitialSamplingPercentage": 5, "DestinationS3Uri": "/var/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }  # fmt: skip
    client.create_endpoint_config("capcfg-none", [Variant("A", model)])
    assert "DataCaptureConfig" not in sm.describe_endpoint_config(EndpointConfigName="capcfg-none")


def test_rest_refuses_a_bad_config_in_one_line(client: Client, model: str) -> None:
    with pytest.raises(TurnoutAPIError) as raised:
        client.create_endpoint_config("capcfg-bad-rest", [Variant("A", model)],
                                      data_capture={"destination": "/x",
                                                    "sampling_percentage": 150})  # fmt: skip
    assert raised.value.status == 400
    assert "InitialSamplingPercentage must be from 0 to 100" in raised.value.message
