"""The narrow model interface an instance serves: load once, then `invoke` per request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from turnout.models.errors import InvocationError, ModelLoadError
from turnout.resources import Flavor

__all__ = ["InvocationError", "ModelLoadError", "Prediction", "Predictor", "load_predictor"]


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer to one request, ready to go on the wire."""

    body: bytes
    content_type: str
    custom_attributes: str | None = None


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
        from turnout.models.flavors.sklearn import SklearnPredictor

        return SklearnPredictor.load(model_dir, environment)
    if flavor == Flavor.INFERENCE:
        from turnout.models.flavors.inference import InferencePredictor

        return InferencePredictor.load(model_dir, environment)
    raise ModelLoadError(f"flavor {flavor.value!r} is not served by turnout's worker")
