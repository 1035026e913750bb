"""AsyncInferenceConfig on CreateEndpointConfig / DescribeEndpointConfig (ADR 0031)."""

from __future__ import annotations

from turnout.api.sagemaker.context import Answer, Params, refuse_unsupported, without_none
from turnout.api.sagemaker.errors import validation_error
from turnout.capture.destination import parse_destination
from turnout.domain.async_inference import AsyncInferenceConfig
from turnout.errors import InvalidRequest

_WHERE = "AsyncInferenceConfig.OutputConfig."


def async_config_of(spec: Params | None) -> AsyncInferenceConfig | None:
    """The config's AsyncInferenceConfig, checked; None when the request has none."""
    if spec is None:
        return None
    output = spec.get("OutputConfig") or {}
    # turnout publishes no SNS notifications: say so rather than drop them silently.
    refuse_unsupported(output, ("NotificationConfig",), _WHERE)
    output_path = output.get("S3OutputPath")
    if not output_path:
        raise validation_error(
            f"{_WHERE}S3OutputPath is required: where results go (s3://bucket/prefix or "
            "file:///dir)."
        )
    failure_path = output.get("S3FailurePath") or None
    for member, path in (("S3OutputPath", output_path), ("S3FailurePath", failure_path)):
        if path is None:
            continue
        try:
            parse_destination(path)
        except InvalidRequest as exc:
            raise validation_error(f"{_WHERE}{member}: {exc}") from None
    client = spec.get("ClientConfig") or {}
    return AsyncInferenceConfig(
        output_path=output_path,
        failure_path=failure_path,
        max_concurrent_per_instance=client.get("MaxConcurrentInvocationsPerInstance"),
        kms_key_id=output.get("KmsKeyId"),
    )


def async_answer(config: AsyncInferenceConfig | None) -> Answer | None:
    if config is None:
        return None
    client = without_none(
        {"MaxConcurrentInvocationsPerInstance": config.max_concurrent_per_instance}
    )
    return without_none(
        {
            "ClientConfig": client or None,
            "OutputConfig": without_none(
                {
                    "S3OutputPath": config.output_path,
                    "S3FailurePath": config.failure_path,
                    "KmsKeyId": config.kms_key_id,
                }
            ),
        }
    )
