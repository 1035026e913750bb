"""The chaining of an inference pipeline's steps (turnout.models.pipeline, ADR 0039)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.pipeline import describe_step, format_timings, parse_timings
from turnout.models.errors import InvocationError
from turnout.models.pipeline import Step, loaded, run
from turnout.models.runtime import Call, LoadedModel, Prediction


class _Appends:
    """A step that appends its mark to the body and answers in its own content type;
    it records what it was called with, and raises when told to."""

    def __init__(self, index: int, fails: bool = False) -> None:
        self.index = index
        self.fails = fails
        self.seen: list[tuple[bytes, str | None, str | None]] = []

    def decode(self, call: Call) -> Any:
        self.seen.append((call.body, call.content_type, call.accept))
        return call.body

    def predict(self, batch: Any) -> Any:
        if self.fails:
            raise ValueError("bad rows")
        return batch + f"|{self.index}".encode()

    def encode(self, call: Call, outputs: Any) -> Prediction:
        return Prediction(outputs, f"type/{self.index}")


def _steps(count: int, failing: int | None = None) -> tuple[list[Step], list[_Appends]]:
    fakes = [_Appends(i, i == failing) for i in range(count)]
    steps = [
        Step(f"container{i + 1}" if i % 2 else f"name{i}", LoadedModel(f, f, None, False, "x"))
        for i, f in enumerate(fakes)
    ]
    return steps, fakes


@given(count=st.integers(1, 15), body=st.binary(max_size=20))
def test_each_step_answers_the_previous_ones_answer(count: int, body: bytes) -> None:
    steps, fakes = _steps(count)
    prediction, timings = run(steps, Call(body, "text/csv", "application/json"))
    assert prediction.body == body + b"".join(f"|{i}".encode() for i in range(count))
    assert prediction.content_type == f"type/{count - 1}"
    assert len(timings) == count and all(us >= 0 for us in timings)
    assert fakes[0].seen[0][:2] == (body, "text/csv")
    for i in range(1, count):  # the previous step's content type, as it answered
        assert fakes[i].seen[0][1] == f"type/{i - 1}"
    accepts = [f.seen[0][2] for f in fakes]  # only the last step sees the caller's Accept
    assert accepts == [None] * (count - 1) + ["application/json"]


@given(st.integers(2, 15).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_a_failing_step_is_named_and_stops_the_chain(sizes: tuple[int, int]) -> None:
    count, failing = sizes
    steps, fakes = _steps(count, failing)
    with pytest.raises(InvocationError) as failed:
        run(steps, Call(b"x", "text/csv"))
    assert failed.value.status == 500
    assert failed.value.message.startswith(f"{describe_step(failing, steps[failing].name)}: ")
    assert "ValueError: bad rows" in failed.value.message
    assert all(not f.seen for f in fakes[failing + 1 :])


def test_a_steps_own_refusal_keeps_its_status() -> None:
    class Refuses(_Appends):
        def decode(self, call: Call) -> Any:
            raise InvocationError(415, "text/csv only")

    fake = Refuses(1)
    steps = [*_steps(1)[0], Step("model", LoadedModel(fake, fake, None, False, "x"))]
    with pytest.raises(InvocationError) as failed:
        run(steps, Call(b"x"))
    assert (failed.value.status, failed.value.message) == (
        415,
        "container 2 (model): text/csv only",
    )


def test_the_pipeline_as_a_loaded_model_carries_its_timings() -> None:
    steps, _ = _steps(2)
    pipeline = loaded(steps)
    assert not pipeline.batchable and pipeline.tensors is None
    prediction = pipeline.invoke(Call(b"x"))
    assert prediction.body == b"x|0|1"
    assert prediction.pipeline_timings is not None
    assert [name for name, _ in parse_timings(prediction.pipeline_timings)] == [
        "name0",
        "container2",
    ]


_NAMES = st.text(st.characters(codec="ascii", exclude_characters=",="), min_size=1, max_size=12)


@given(st.lists(st.tuples(_NAMES, st.floats(0, 1e9)), max_size=15))
def test_timings_round_trip(items: list[tuple[str, float]]) -> None:
    value = format_timings([n for n, _ in items], [us for _, us in items])
    parsed = parse_timings(value)
    assert [n for n, _ in parsed] == [n for n, _ in items]
    assert all(
        abs(a - us) <= 0.05 + 1e-9 * us for (_, a), (_, us) in zip(parsed, items, strict=True)
    )


@given(st.binary(max_size=200))
def test_any_header_parses_to_non_negative_finite_timings(value: bytes) -> None:
    assert all(0 <= us < float("inf") and name for name, us in parse_timings(value))


def test_describe_step() -> None:
    assert describe_step(1, "container2") == "container 2"
    assert describe_step(0, "scaler") == "container 1 (scaler)"
