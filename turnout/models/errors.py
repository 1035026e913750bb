"""The two ways a model fails: it cannot load, or it cannot answer one request."""

from __future__ import annotations


class InvocationError(Exception):
    """A request the model could not answer.

    400 malformed body or bad shape, 415 unsupported Content-Type, 406 unsupported Accept,
    500 the model raised. `message` goes back to the caller as plain text.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ModelLoadError(Exception):
    """The model cannot load; `str(err)` is a one-line reason."""


class ArtifactError(Exception):
    """The artifact cannot be served; `str(err)` says what is wrong and what to do."""
