"""The batcher on a real event loop, with a model that records every predict call."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from turnout.instances.batcher import Batcher
from turnout.models.batching import BatchPolicy
from turnout.models.errors import InvocationError


class Recorder:
    """Doubles its input rows; refuses rows holding a negative number, as sklearn refuses
    NaN: the whole call fails."""

    def __init__(self) -> None:
        self.calls: list[int] = []  # rows per predict call

    def predict(self, batch: Any) -> Any:
        self.calls.append(len(batch))
        if (batch < 0).any():
            raise InvocationError(400, "negative input")
        return batch * 2


def rows(*values: float) -> np.ndarray[Any, Any]:
    return np.array([[v, v] for v in values])


async def gather(batcher: Batcher, *inputs: Any) -> list[Any]:
    return await asyncio.gather(*(batcher.predict(i) for i in inputs), return_exceptions=True)


async def test_requests_submitted_together_share_one_call() -> None:
    model = Recorder()
    answers = await gather(Batcher(model, BatchPolicy(8)), rows(1), rows(2, 3), rows(4))
    assert model.calls == [4]
    assert [a[0].tolist() for a in answers] == [[[2, 2]], [[4, 4], [6, 6]], [[8, 8]]]
    assert [a[1] for a in answers] == [3, 0, 0]  # the batch's size, on its first answer only


async def test_a_lone_request_is_predicted_at_once_and_counts_as_a_batch_of_one() -> None:
    model = Recorder()
    outputs, size = await Batcher(model, BatchPolicy(8)).predict(rows(1))
    assert (model.calls, size, outputs.tolist()) == ([1], 1, [[2, 2]])


async def test_batches_are_bounded_by_max_size_and_the_rest_follow() -> None:
    model = Recorder()
    answers = await gather(Batcher(model, BatchPolicy(4)), *(rows(i) for i in range(10)))
    assert model.calls == [4, 4, 2]
    assert [a[0][0, 0] for a in answers] == [2 * i for i in range(10)]


async def test_one_bad_request_fails_alone() -> None:
    model = Recorder()
    answers = await gather(Batcher(model, BatchPolicy(8)), rows(1), rows(-1), rows(3))
    assert model.calls == [3, 1, 2, 1, 1]  # the batch failed: halves until the bad one is alone
    assert answers[0][0].tolist() == [[2, 2]] and answers[2][0].tolist() == [[6, 6]]
    assert isinstance(answers[1], InvocationError) and answers[1].status == 400


async def test_the_good_requests_around_a_bad_one_stay_batched() -> None:
    model = Recorder()
    inputs = [rows(i) for i in range(1, 17)]
    inputs[5] = rows(-1)
    answers = await gather(Batcher(model, BatchPolicy(16)), *inputs)
    assert [isinstance(a, InvocationError) for a in answers].count(True) == 1
    assert model.calls[0] == 16 and max(model.calls[1:]) == 8
    assert len(model.calls) <= 2 * 4 + 1  # halving, not one call per request


async def test_inputs_that_cannot_stack_are_predicted_apart() -> None:
    model = Recorder()
    three_wide = np.array([[1.0, 1.0, 1.0]])
    answers = await gather(Batcher(model, BatchPolicy(8)), rows(1), three_wide, rows(2))
    assert sorted(model.calls) == [1, 2]
    assert answers[1][0].tolist() == [[2, 2, 2]]


async def test_an_answer_without_a_row_per_input_row_falls_back_to_one_by_one() -> None:
    class Summing:
        calls = 0

        def predict(self, batch: Any) -> Any:
            self.calls += 1
            return float(batch.sum())

    model = Summing()
    answers = await gather(Batcher(model, BatchPolicy(8)), rows(1), rows(2))
    assert model.calls == 3
    assert [a[0] for a in answers] == [2.0, 4.0]


async def test_off_calls_the_model_inline() -> None:
    model = Recorder()
    answers = await gather(Batcher(model, BatchPolicy(1)), rows(1), rows(2))
    assert model.calls == [1, 1]
    assert [a[1] for a in answers] == [1, 1]


async def test_a_delay_waits_for_company_and_a_full_batch_does_not_wait() -> None:
    model = Recorder()
    batcher = Batcher(model, BatchPolicy(3, max_delay_ms=60_000.0))
    first = asyncio.ensure_future(batcher.predict(rows(1)))
    for _ in range(5):  # without a delay the flush would have run by now
        await asyncio.sleep(0)
    assert model.calls == [] and not first.done()
    rest = await gather(batcher, rows(2), rows(3))  # the third request fills the batch
    assert model.calls == [3]
    assert (await first)[0].tolist() == [[2, 2]] and rest[1][0].tolist() == [[6, 6]]


async def test_a_caller_that_went_away_is_skipped() -> None:
    model = Recorder()
    batcher = Batcher(model, BatchPolicy(8))
    gone = asyncio.ensure_future(batcher.predict(rows(1)))
    kept = asyncio.ensure_future(batcher.predict(rows(2)))
    await asyncio.sleep(0)  # both are queued
    gone.cancel()
    assert (await kept)[0].tolist() == [[4, 4]]
    assert model.calls == [1]


async def test_a_model_calling_exit_fails_the_request_not_the_loop() -> None:
    class Exiting:
        def predict(self, batch: Any) -> Any:
            raise SystemExit(3)

    answers = await gather(Batcher(Exiting(), BatchPolicy(8)), rows(1), rows(2))
    assert all(isinstance(a, InvocationError) and a.status == 500 for a in answers)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, BatchPolicy(32, 0.0)),
        ({"TURNOUT_MAX_BATCH_SIZE": "1"}, BatchPolicy(1, 0.0)),
        (
            {"TURNOUT_MAX_BATCH_SIZE": "64", "TURNOUT_MAX_BATCH_DELAY_MS": "2.5"},
            BatchPolicy(64, 2.5),
        ),
        ({"TURNOUT_MAX_BATCH_SIZE": "1", "TURNOUT_MAX_BATCH_DELAY_MS": "5"}, BatchPolicy(1, 0.0)),
    ],
)
def test_the_policy_from_the_environment(
    environment: dict[str, str], expected: BatchPolicy
) -> None:
    assert BatchPolicy.of(environment) == expected
    assert BatchPolicy.of(environment, batchable=False) == BatchPolicy(1, 0.0)
