"""An inference pipeline inside one instance (ADR 0039): containers called in a row.

Each step is a loaded model. A request goes to step 1 as it came; each step's answer (its
body and Content-Type) is the next step's request. Only the last step sees the caller's
Accept (the others answer in their default type, which the next one must read), as
SageMaker's serial pipelines do. The steps run one request at a time, unbatched: a step's
output is bytes for the next step's codec, so there is nothing to stack across requests.

A step that fails raises InvocationError naming it ("container 2 (model): ..."), so the
caller's ModelError says which container failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any

from turnout.domain.pipeline import describe_step, format_timings
from turnout.models.errors import InvocationError
from turnout.models.runtime import Call, LoadedModel, Prediction


@dataclass(frozen=True, slots=True)
class Step:
    name: str  # ContainerHostname, or containerN
    model: LoadedModel


def run(steps: Sequence[Step], call: Call) -> tuple[Prediction, list[float]]:
    """The last step's answer to `call`, and each step's µs."""
    timings: list[float] = []
    last = len(steps) - 1
    body, content_type = call.body, call.content_type
    prediction: Prediction | None = None
    for index, step in enumerate(steps):
        step_call = Call(
            body,
            content_type,
            call.accept if index == last else None,
            call.custom_attributes,
        )
        started = perf_counter()
        try:
            prediction = step.model.invoke(step_call)
        except InvocationError as err:
            raise InvocationError(
                err.status, f"{describe_step(index, step.name)}: {err.message}"
            ) from err
        except (Exception, SystemExit) as err:  # the step's own code raised
            raise InvocationError(
                500, f"{describe_step(index, step.name)}: {type(err).__name__}: {err}"
            ) from err
        timings.append((perf_counter() - started) * 1e6)
        body, content_type = prediction.body, prediction.content_type
    assert prediction is not None, "a pipeline has steps"
    return prediction, timings


class PipelineCodec:
    """Fits a pipeline into the instance's decode -> predict -> encode (batching off):
    decode keeps the call, predict runs the steps, encode hands their answer over."""

    __slots__ = ("names", "steps")

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = tuple(steps)
        self.names = [s.name for s in steps]

    def decode(self, call: Call) -> Any:
        return call

    def predict(self, batch: Any) -> Any:
        prediction, timings = run(self.steps, batch)
        return prediction, format_timings(self.names, timings)

    def encode(self, call: Call, outputs: Any) -> Prediction:
        prediction, timings = outputs
        return replace(prediction, pipeline_timings=timings)


def loaded(steps: Sequence[Step]) -> LoadedModel:
    codec = PipelineCodec(steps)
    return LoadedModel(model=codec, body=codec, tensors=None, batchable=False, platform="pipeline")
