"""DataCaptureConfig on the wire: CreateEndpointConfig's input, DescribeEndpointConfig's
echo, and DescribeEndpoint's DataCaptureConfigSummary (turnout.capture does the work)."""

from __future__ import annotations

from turnout.api.sagemaker.context import Answer, Params, without_none
from turnout.capture.hub import CaptureStatus
from turnout.domain.resources import DataCapture


def data_capture_of(params: Params) -> DataCapture | None:
    """The DataCaptureConfig of a CreateEndpointConfig request (shapes already checked)."""
    spec = params.get("DataCaptureConfig")
    if spec is None:
        return None
    modes = {option["CaptureMode"] for option in spec["CaptureOptions"]}
    header = spec.get("CaptureContentTypeHeader") or {}
    return DataCapture(
        destination=spec["DestinationS3Uri"],
        sampling_percentage=spec["InitialSamplingPercentage"],
        capture_input=bool(modes & {"Input", "InputAndOutput"}),
        capture_output=bool(modes & {"Output", "InputAndOutput"}),
        enabled=spec.get("EnableCapture", True),
        csv_content_types=tuple(header.get("CsvContentTypes", ())),
        json_content_types=tuple(header.get("JsonContentTypes", ())),
        kms_key_id=spec.get("KmsKeyId"),
    )


def config_answer(capture: DataCapture | None) -> Answer | None:
    """DescribeEndpointConfig's DataCaptureConfig: what was given."""
    if capture is None:
        return None
    modes = [("Input", capture.capture_input), ("Output", capture.capture_output)]
    header = without_none(
        {
            "CsvContentTypes": list(capture.csv_content_types) or None,
            "JsonContentTypes": list(capture.json_content_types) or None,
        }
    )
    return without_none(
        {
            "EnableCapture": capture.enabled,
            "InitialSamplingPercentage": capture.sampling_percentage,
            "DestinationS3Uri": capture.destination,
            "KmsKeyId": capture.kms_key_id,
            "CaptureOptions": [{"CaptureMode": mode} for mode, on in modes if on],
            "CaptureContentTypeHeader": header or None,
        }
    )


def summary_answer(found: tuple[DataCapture, CaptureStatus] | None) -> Answer | None:
    """DescribeEndpoint's DataCaptureConfigSummary (Stopped, sampling 0 %, after a write
    error until capture resumes; the native API says why)."""
    if found is None:
        return None
    capture, status = found
    return {
        "EnableCapture": capture.enabled,
        "CaptureStatus": "Started" if status.started else "Stopped",
        "CurrentSamplingPercentage": capture.sampling_percentage if status.started else 0,
        "DestinationS3Uri": capture.destination,
        "KmsKeyId": capture.kms_key_id or "",
    }
