"""Helpers for the flavor tests: load by name, invoke, expect an error, batch for real."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from turnout.models import batching, registry
from turnout.models.errors import InvocationError
from turnout.models.runtime import Call, LoadedModel, Prediction


def load(flavor: str, model_dir: Path, environment: Mapping[str, str] | None = None) -> LoadedModel:
    load_model = registry.get(flavor).load
    assert load_model is not None
    return load_model(model_dir, environment or {})


def invoke(
    model: LoadedModel, body: bytes, content_type: str | None = None, accept: str | None = None
) -> Prediction:
    return model.invoke(Call(body, content_type, accept, None))


def failure(
    model: LoadedModel, body: bytes, content_type: str | None = None, accept: str | None = None
) -> InvocationError:
    with pytest.raises(InvocationError) as caught:
        invoke(model, body, content_type, accept)
    return caught.value


def batched(model: LoadedModel, calls: Sequence[Call]) -> list[Prediction]:
    """The calls decoded, stacked into one predict, split and encoded, as the batcher does;
    asserts that they stack and that each answer equals the call's answer alone."""
    alone = [model.invoke(Call(c.body, c.content_type, c.accept, None)) for c in calls]
    inputs = [model.body.decode(call) for call in calls]
    signatures = {batching.signature(item) for item in inputs}
    assert len(signatures) == 1 and None not in signatures, signatures
    outputs = model.model.predict(batching.stack(inputs))
    shares = batching.split(outputs, [batching.rows(item) for item in inputs])
    answers = [model.body.encode(call, share) for call, share in zip(calls, shares, strict=True)]
    assert answers == alone
    return answers
