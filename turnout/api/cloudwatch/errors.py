"""CloudWatch's error answers: a query-protocol code (`InvalidParameterValue`), the shape
botocore's model names for it (`InvalidParameterValueException`), an HTTP status, and
whether the caller (Sender) or the service (Receiver) is at fault.

CloudWatch is `awsQueryCompatible`: in JSON and CBOR the body's `__type` is the shape name
and the `x-amzn-query-error: <code>;Sender` header gives botocore the query code, so
`Error.Code` (and `client.exceptions.*`) is the same in all three protocols.
"""

from __future__ import annotations


class CloudWatchError(Exception):
    def __init__(
        self, code: str, message: str, status: int = 400, shape: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.shape = shape or code

    @property
    def fault(self) -> str:
        return "Sender" if self.status < 500 else "Receiver"


def invalid_parameter(message: str) -> CloudWatchError:
    return CloudWatchError("InvalidParameterValue", message, shape="InvalidParameterValueException")


def invalid_combination(message: str) -> CloudWatchError:
    return CloudWatchError(
        "InvalidParameterCombination", message, shape="InvalidParameterCombinationException"
    )


def missing_parameter(name: str) -> CloudWatchError:
    return CloudWatchError(
        "MissingParameter",
        f"The parameter {name} is required.",
        shape="MissingRequiredParameterException",
    )


def validation_error(message: str) -> CloudWatchError:
    return CloudWatchError("ValidationError", message)


def not_found(message: str) -> CloudWatchError:
    return CloudWatchError("ResourceNotFound", message, 404)


def invalid_next_token() -> CloudWatchError:
    return CloudWatchError("InvalidNextToken", "The NextToken is not valid.")


def invalid_action(operation: str) -> CloudWatchError:
    return CloudWatchError(
        "InvalidAction",
        f"The action {operation or '(none)'} is not valid for this web service; turnout's "
        "CloudWatch serves GetMetricStatistics, GetMetricData, ListMetrics, PutMetricAlarm, "
        "DescribeAlarms, DescribeAlarmHistory, DeleteAlarms and SetAlarmState.",
    )


def service_unavailable(message: str) -> CloudWatchError:
    """503: the store cannot answer now; retry (botocore does, on this code)."""
    return CloudWatchError("ServiceUnavailable", message, 503, shape="ServiceUnavailableException")


def internal_failure() -> CloudWatchError:
    return CloudWatchError(
        "InternalServiceError",
        "The request processing has failed because of an unknown error; see turnout's log.",
        500,
        shape="InternalServiceFault",
    )
