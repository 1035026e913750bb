"""CloudWatch's contract as data: botocore's `cloudwatch` service model, cut to the
operations turnout serves (the same pruning as the SageMaker facade's)."""

from __future__ import annotations

import functools

from turnout.api.sagemaker.servicemodel import ServiceModel, prune

OPERATIONS = (
    "GetMetricStatistics",
    "GetMetricData",
    "ListMetrics",
    "PutMetricAlarm",
    "DescribeAlarms",
    "DescribeAlarmHistory",
    "DeleteAlarms",
    "SetAlarmState",
)
TARGET_PREFIX = "GraniteServiceVersion20100801"  # X-Amz-Target and the CBOR path's service
XML_NAMESPACE = "http://monitoring.amazonaws.com/doc/2010-08-01/"
API_VERSION = "2010-08-01"


@functools.cache
def cloudwatch() -> ServiceModel:
    from botocore.loaders import Loader  # heavy: only when first needed

    return prune(Loader().load_service_model("cloudwatch", "service-2"), OPERATIONS)
