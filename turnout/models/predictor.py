"""The narrow model interface an instance serves: load once, then `invoke` per request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from turnout.domain.resources import Flavor


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer to one request, ready to go on the wire."""

    body: bytes
    content_type: str
    custom_attributes: str | None = None


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


class Predictor(Protocol):
    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
    ) -> Prediction: ...


def load_predictor(model_dir: Path, flavor: Flavor, environment: Mapping[str, str]) -> Predictor:
    """Load the model in `model_dir` as `flavor` (SKLEARN or INFERENCE); raise ModelLoadError."""
    # Imported here so that importing this module stays cheap (no numpy/sklearn).
    if flavor == Flavor.SKLEARN:
        from turnout.models.sklearn import SklearnPredictor

        return SklearnPredictor.load(model_dir, environment)
    if flavor == Flavor.INFERENCE:
        from turnout.models.inference import InferencePredictor

        return InferencePredictor.load(model_dir, environment)
    raise ModelLoadError(f"flavor {flavor.value!r} is not served by turnout's worker")
