"""SageMaker's error answers, as botocore's JSON protocol parses them.

The body is `{"__type": code, "message": text}`; botocore raises `ClientError` with
`Error.Code` = code (e.g. `client.exceptions.ResourceLimitExceeded` where the model
declares that shape). Missing resources are plain ValidationExceptions with SageMaker's
wording, which boto3's waiters rely on (`endpoint_deleted` succeeds on it).
"""

from __future__ import annotations

from turnout.api.sagemaker import arns


class AwsError(Exception):
    """An error answer: HTTP status, AWS error code and message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def serialization_error(message: str) -> AwsError:
    return AwsError("SerializationException", message)


def resource_limit_exceeded(message: str) -> AwsError:
    return AwsError("ResourceLimitExceeded", message)


def unknown_operation(target: str) -> AwsError:
    return AwsError("UnknownOperationException", f"Unknown operation {target or '(none)'}.")


def internal_failure() -> AwsError:
    return AwsError(
        "InternalFailure",
        "The request processing has failed because of an unknown error; see turnout's log.",
        500,
    )


def service_unavailable(message: str) -> AwsError:
    """503: the store cannot answer now (botocore retries it, as a throttling-like error)."""
    return AwsError("ServiceUnavailable", message, 503)


def not_found(kind: str, name: str, account: str, region: str) -> AwsError:
    """`Could not find endpoint "arn:aws:sagemaker:...:endpoint/x".` (kind: the store's word)."""
    resource = arns.RESOURCE_OF_KIND[kind]
    arn = arns.build(region, account, resource, name)
    return validation_error(f'Could not find {arns.WORDS[resource]} "{arn}".')


def already_exists(kind: str, name: str, account: str, region: str) -> AwsError:
    resource = arns.RESOURCE_OF_KIND[kind]
    arn = arns.build(region, account, resource, name)
    return validation_error(f'Cannot create already existing {arns.WORDS[resource]} "{arn}".')
