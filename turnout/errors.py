"""Errors the service layer raises; each facade maps them to its own wire shape.

The service layer never formats HTTP: the SageMaker facade turns these into
`{"__type": ..., "message": ...}`, the native REST API into `{"error": {...}}`.
"""

from __future__ import annotations


class TurnoutError(Exception):
    """Base of every error a caller can cause; `str(err)` is a one-line message."""


class InvalidRequest(TurnoutError):
    """The request breaks a documented rule (bad name, too many variants, bad weight...)."""


class NotFound(TurnoutError):
    """A named resource does not exist."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f'Could not find {kind} "{name}".')
        self.kind = kind
        self.name = name


class AlreadyExists(TurnoutError):
    """A resource with that name exists already."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f'Cannot create already existing {kind} "{name}".')
        self.kind = kind
        self.name = name


class Conflict(TurnoutError):
    """The resource is in a state that does not allow the operation (e.g. still Creating)."""


class StoreUnavailable(TurnoutError):
    """The store cannot answer now (database down or unreachable, or busy beyond its
    timeout); nothing was changed. Facades answer 503 ServiceUnavailable: retry later."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The store is unavailable ({reason}); nothing was changed, retry in a few seconds."
        )
        self.reason = reason
