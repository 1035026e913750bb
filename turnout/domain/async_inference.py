"""Asynchronous inference (SageMaker's AsyncInferenceConfig and InvokeEndpointAsync): the
plain values the store, the runtime facade and the queue's worker share (ADR 0031)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# SageMaker's limits (botocore's sagemaker-runtime model and the developer guide).
MAX_INPUT_BYTES = 1024 * 1024 * 1024  # an input object of at most 1 GB
DEFAULT_TTL_SECONDS = 6 * 3600  # RequestTTLSeconds: 60..21600, default 6 hours
MIN_TTL_SECONDS, MAX_TTL_SECONDS = 60, 21600
DEFAULT_INVOCATION_TIMEOUT = 900  # InvocationTimeoutSeconds: 1..3600, default 15 minutes
MIN_INVOCATION_TIMEOUT, MAX_INVOCATION_TIMEOUT = 1, 3600
# MaxConcurrentInvocationsPerInstance: 1..1000. SageMaker "chooses an optimal value" when it
# is absent; turnout's worker serves one request at a time per process, so 4 keeps an
# instance busy without queueing much in front of it.
DEFAULT_CONCURRENCY_PER_INSTANCE = 4
MAX_CONCURRENCY_PER_INSTANCE = 1000
# Requests waiting (queued or running) per endpoint; beyond it InvokeEndpointAsync answers
# ServiceUnavailable, so a runaway client cannot fill the store.
MAX_BACKLOG = 100_000


@dataclass(frozen=True)
class AsyncInferenceConfig:
    """An endpoint config's AsyncInferenceConfig: where results and failures go.

    Paths are as given, `s3://bucket/prefix` or `file:///abs/dir`; without a failure path,
    failures go to the output path (as `<id>-error.out`).
    """

    output_path: str
    failure_path: str | None = None
    max_concurrent_per_instance: int | None = None
    kms_key_id: str | None = None  # recorded and shown back

    @property
    def concurrency_per_instance(self) -> int:
        return self.max_concurrent_per_instance or DEFAULT_CONCURRENCY_PER_INSTANCE


class RequestState(StrEnum):
    QUEUED = "queued"  # waiting for a worker
    RUNNING = "running"  # claimed: a worker holds its lease
    DONE = "done"  # the output object is written
    FAILED = "failed"  # the error object is written


FINISHED = (RequestState.DONE, RequestState.FAILED)


@dataclass(frozen=True)
class AsyncRequest:
    """One InvokeEndpointAsync call, as the queue keeps it."""

    id: int
    endpoint: str
    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    enqueued_at: float
    deadline: float  # enqueued_at + RequestTTLSeconds: not started after it, it fails
    invocation_timeout: float
    state: RequestState = RequestState.QUEUED
    attempts: int = 0  # how many times a worker claimed it
    lease_owner: str | None = None
    lease_expires: float | None = None
    finished_at: float | None = None
    reason: str | None = None  # why it failed


@dataclass(frozen=True)
class Backlog:
    """One endpoint's waiting requests, for SageMaker's async metrics."""

    endpoint: str
    size: int  # ApproximateBacklogSize: queued + running
    queued: int  # of which waiting for a worker
    oldest_enqueued_at: float | None  # of the oldest queued or running request

    def age(self, now: float) -> float:
        """ApproximateAgeOfOldestRequest (seconds)."""
        return 0.0 if self.oldest_enqueued_at is None else max(0.0, now - self.oldest_enqueued_at)


@dataclass(frozen=True)
class Wait:
    """One request's time in the queue: [enqueued_at, finished_at), open while it waits."""

    enqueued_at: float
    finished_at: float | None


def output_location(output_path: str, request_id: str) -> str:
    """Where the result of the request goes: `<S3OutputPath>/<id>.out`."""
    return f"{output_path.rstrip('/')}/{request_id}.out"


def failure_location(failure_path: str, request_id: str) -> str:
    """Where the reason of its failure goes: `<S3FailurePath>/<id>-error.out`."""
    return f"{failure_path.rstrip('/')}/{request_id}-error.out"
