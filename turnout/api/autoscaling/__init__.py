"""Application Auto Scaling for SageMaker variants (AWS JSON 1.1,
`X-Amz-Target: AnyScaleFrontendService.<Op>`), wire-compatible with boto3's
"application-autoscaling" client (ADR 0036)."""

from turnout.api.autoscaling.facade import AutoscalingApi, is_autoscaling_request

__all__ = ["AutoscalingApi", "is_autoscaling_request"]
