"""The CloudWatch API (metrics and alarms) in its three protocols: RPC v2 CBOR, AWS JSON
1.0 and query, wire-compatible with boto3's "cloudwatch" client."""

from turnout.api.cloudwatch.facade import CloudWatchApi, is_cloudwatch_request

__all__ = ["CloudWatchApi", "is_cloudwatch_request"]
