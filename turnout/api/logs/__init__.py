"""CloudWatch Logs for SageMaker endpoints (AWS JSON 1.1), wire-compatible with boto3's "logs"
client: `/aws/sagemaker/Endpoints/<name>` from the instances' log files (ADR 0028)."""

from turnout.api.logs.facade import LogsApi, is_logs_request

__all__ = ["LogsApi", "is_logs_request"]
