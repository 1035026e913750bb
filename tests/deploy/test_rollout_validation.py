"""The Validating phase: a deployment with a prediction test shifts no traffic until the
test passed on green, and rolls back with the test's summary when it fails."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.deploy.test_rollout import deployment, run
from turnout.deploy.rollout import Facts, Green, Validation, decide, due_at, green_share
from turnout.domain.checks import Bound, PredictionTest, Row, Threshold
from turnout.domain.deployments import Deployment, Phase, Request

READY = Green.READY
TEST = PredictionTest((Row((1.0,), 1),), (Threshold("accuracy", Bound.MIN, 0.9),))
PASSED = Validation(True, "passed on variant B of green (endpoint e), 1 rows: accuracy = 1")
FAILED = Validation(False, "failed on variant B of green (endpoint e), 1 rows: accuracy = 0")


def gated() -> Deployment:
    return replace(deployment(), prediction_test=TEST)


def test_green_ready_validates_first_then_a_pass_shifts() -> None:
    d = run(gated(), Facts(1.0, READY))
    assert (d.phase, green_share(d, True), due_at(d)) == (Phase.VALIDATING, 0.0, None)
    assert run(d, Facts(2.0, READY)) == d  # the test runs: nothing due meanwhile
    change = decide(d, Facts(3.0, READY, validation=PASSED))
    assert change is not None
    d = change.deployment
    assert (d.phase, d.step, d.step_started_at, green_share(d, True)) == (
        Phase.BAKING, 0, 3.0, 0.1,
    )  # fmt: skip
    assert change.event.message.startswith("Prediction test passed on variant B of green")
    assert change.event.green_share == 0.1


def test_a_failed_test_rolls_back_with_its_summary_even_when_paused() -> None:
    d = run(gated(), Facts(1.0, READY))
    d = run(replace(d, requested=Request.PAUSE), Facts(1.5, READY))
    assert d.paused
    change = decide(d, Facts(2.0, READY, validation=FAILED))
    assert change is not None
    d = change.deployment
    assert d.phase is Phase.ROLLING_BACK and green_share(d, True) == 0.0
    assert d.failure_reason == f"Prediction test {FAILED.summary}"
    d = run(d, Facts(3.0, Green.ABSENT, green_stopped=True))
    assert (d.phase, d.failure_reason) == (Phase.ROLLED_BACK, f"Prediction test {FAILED.summary}")


def test_a_pass_while_paused_waits_for_resume() -> None:
    d = run(replace(run(gated(), Facts(1.0, READY)), requested=Request.PAUSE), Facts(1.5, READY))
    assert run(d, Facts(2.0, READY, validation=PASSED)) == d
    d = run(replace(d, requested=Request.RESUME), Facts(3.0, READY, validation=PASSED))
    assert (d.phase, d.paused, green_share(d, True)) == (Phase.BAKING, False, 0.1)


def test_without_a_test_green_ready_shifts_at_once() -> None:
    d = run(deployment(), Facts(1.0, READY))
    assert d.phase is Phase.BAKING


def test_green_failing_or_the_timeout_roll_back_a_validating_deployment() -> None:
    d = run(gated(), Facts(1.0, READY))
    assert run(d, Facts(2.0, Green.FAILED, "exit 1")).phase is Phase.ROLLING_BACK
    timed = run(replace(gated(), policy=deployment(timeout=600).policy), Facts(1.0, READY))
    assert timed.phase is Phase.VALIDATING
    assert run(timed, Facts(601.0, READY)).phase is Phase.ROLLING_BACK


outcomes = st.sampled_from([None, PASSED, FAILED])
greens = st.sampled_from(list(Green))
requests = st.sampled_from([None, *Request])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(greens, outcomes, requests), max_size=30))
def test_no_traffic_reaches_green_before_its_test_passed(
    history: list[tuple[Green, Validation | None, Request | None]],
) -> None:
    d = gated()
    passed = False
    for now, (green, outcome, request) in enumerate(history, 1):
        if request is not None and not d.phase.finished:
            d = replace(d, requested=request)
        facts = Facts(float(now), green, "boom", green is not READY, None, {}, outcome)
        for _ in range(20):
            change = decide(d, facts)
            if change is None:
                break
            before, d = d, change.deployment
            if before.phase is Phase.VALIDATING and d.phase is Phase.BAKING:
                assert outcome is PASSED
                passed = True
            if before.phase is Phase.VALIDATING and outcome is FAILED:
                assert d.phase is Phase.ROLLING_BACK
        else:
            raise AssertionError("decide does not settle")
        if not passed:
            assert green_share(d, True) == 0.0, "traffic on green before its test passed"
            assert d.phase not in (Phase.BAKING, Phase.TERMINATION_WAIT, Phase.SUCCEEDED)
