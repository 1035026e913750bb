"""The rollout state machine: examples of each path, and properties over random histories."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.deploy.rollout import Facts, Green, decide, due_at, green_share, watches_alarms
from turnout.deploy.shifting import steps
from turnout.domain.alarms import AlarmState
from turnout.domain.deployments import Deployment, Phase, Request, RolloutPolicy
from turnout.domain.shifting import (
    BlueGreenPolicy,
    CapacitySize,
    CapacityType,
    RoutingType,
    TrafficRouting,
)

OK, ALARM, NODATA = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
READY = Green.READY


def deployment(
    kind: RoutingType = RoutingType.CANARY,
    percent: int = 10,
    bake: int = 2,
    termination_wait: int = 0,
    timeout: int | None = None,
    pause_on_insufficient_data: bool = False,
) -> Deployment:
    size = CapacitySize(CapacityType.CAPACITY_PERCENT, percent)
    routing = TrafficRouting(
        kind,
        bake,
        canary_size=size if kind is RoutingType.CANARY else None,
        linear_step_size=size if kind is RoutingType.LINEAR else None,
    )
    policy = RolloutPolicy(
        BlueGreenPolicy(routing, termination_wait, timeout),
        alarms=("errors",),
        pause_on_insufficient_data=pause_on_insufficient_data,
    )
    return Deployment(
        id=1,
        endpoint="e",
        blue_config="blue",
        green_config="green",
        policy=policy,
        steps=tuple(steps(routing, 1)),
        phase=Phase.PROVISIONING,
        step=0,
        step_started_at=None,
        started_at=0.0,
    )


def run(d: Deployment, facts: Facts) -> Deployment:
    """Apply decisions until none is due."""
    for _ in range(20):
        change = decide(d, facts)
        if change is None:
            return d
        assert change.deployment.revision == d.revision + 1
        d = change.deployment
    raise AssertionError("decide does not settle")


def test_a_canary_goes_step_by_step_to_success() -> None:
    d = deployment(termination_wait=5)
    assert run(d, Facts(0.0)) == d  # green not ready: nothing
    d = run(d, Facts(1.0, READY))
    assert (d.phase, d.step, green_share(d, True)) == (Phase.BAKING, 0, 0.1)
    assert due_at(d) == 3.0
    assert run(d, Facts(2.9, READY, alarms={"errors": OK})) == d
    d = run(d, Facts(3.0, READY, alarms={"errors": OK}))
    assert (d.step, green_share(d, True), d.step_started_at) == (1, 1.0, 3.0)
    d = run(d, Facts(5.0, READY, alarms={"errors": OK}))
    assert (d.phase, green_share(d, True)) == (Phase.TERMINATION_WAIT, 1.0)
    d = run(d, Facts(10.0, READY))
    assert (d.phase, green_share(d, False), d.finished_at) == (Phase.SUCCEEDED, 1.0, 10.0)


def test_an_alarm_while_baking_rolls_back_and_names_the_alarm() -> None:
    d = run(deployment(), Facts(1.0, READY))
    change = decide(d, Facts(1.5, READY, alarms={"errors": ALARM}))
    assert change is not None
    d = change.deployment
    assert (d.phase, green_share(d, True)) == (Phase.ROLLING_BACK, 0.0)
    assert d.failure_reason is not None and "errors" in d.failure_reason
    assert run(d, Facts(2.0, READY)) == d  # until green is stopped
    d = run(d, Facts(2.0, green_stopped=True))
    assert d.phase is Phase.ROLLED_BACK and "errors" in (d.failure_reason or "")


def test_blue_that_cannot_start_during_rollback_fails_the_rollback() -> None:
    d = run(replace(deployment(), requested=Request.ROLLBACK), Facts(1.0))
    assert d.phase is Phase.ROLLING_BACK
    d = run(d, Facts(2.0, blue_failure="no memory"))
    assert d.phase is Phase.ROLLBACK_FAILED and "no memory" in (d.failure_reason or "")


def test_the_execution_timeout_rolls_back_on_a_fake_clock() -> None:
    d = run(deployment(bake=3600, timeout=7200), Facts(1.0, READY))
    assert run(d, Facts(7200.0, READY, alarms={"errors": OK})).phase is Phase.BAKING
    d = run(d, Facts(7201.0, READY, alarms={"errors": OK}))
    assert d.phase is Phase.ROLLING_BACK
    assert "MaximumExecutionTimeoutInSeconds (7200)" in (d.failure_reason or "")


def test_a_green_fleet_that_fails_to_start_rolls_back() -> None:
    d = run(deployment(), Facts(1.0, Green.FAILED, green_failure="exit 3"))
    assert d.phase is Phase.ROLLING_BACK and "exit 3" in (d.failure_reason or "")


def test_insufficient_data_pauses_when_asked_and_resume_goes_on() -> None:
    d = run(deployment(pause_on_insufficient_data=True), Facts(1.0, READY))
    d = run(d, Facts(3.0, READY, alarms={"errors": NODATA}))
    assert (d.phase, d.step, d.paused) == (Phase.BAKING, 0, True)
    assert run(d, Facts(9.0, READY, alarms={"errors": NODATA})) == d
    d = run(replace(d, requested=Request.RESUME), Facts(10.0, READY, alarms={"errors": NODATA}))
    assert (d.step, d.paused, d.requested) == (1, False, None)
    # Without the option, INSUFFICIENT_DATA goes on.
    d = run(deployment(), Facts(1.0, READY))
    assert run(d, Facts(3.0, READY, alarms={"errors": NODATA})).step == 1


def test_pause_holds_the_step_but_alarms_still_roll_back() -> None:
    d = run(deployment(), Facts(1.0, READY))
    d = run(replace(d, requested=Request.PAUSE), Facts(1.5, READY))
    assert d.paused and d.requested is None
    assert run(d, Facts(60.0, READY, alarms={"errors": OK})).step == 0
    assert run(d, Facts(60.0, READY, alarms={"errors": ALARM})).phase is Phase.ROLLING_BACK
    d = run(replace(d, requested=Request.RESUME), Facts(61.0, READY, alarms={"errors": OK}))
    assert (d.step, d.paused) == (1, False)


def test_promote_skips_to_the_termination_wait_then_ends_it() -> None:
    d = run(deployment(kind=RoutingType.LINEAR, percent=25, termination_wait=60), Facts(1.0, READY))
    d = run(replace(d, requested=Request.PROMOTE), Facts(1.5, READY))
    assert (d.phase, green_share(d, True)) == (Phase.TERMINATION_WAIT, 1.0)
    d = run(replace(d, requested=Request.PROMOTE), Facts(2.0, READY))
    assert d.phase is Phase.SUCCEEDED


def test_a_restart_mid_bake_moves_traffic_to_blue_then_bakes_the_step_again() -> None:
    d = run(deployment(), Facts(1.0, READY))
    d = run(d, Facts(2.0))  # a new process: green is not provisioned
    assert (d.step_started_at, green_share(d, True), d.step) == (None, 0.0, 0)
    assert not watches_alarms(d)
    d = run(d, Facts(30.0, READY))
    assert (d.step, d.step_started_at, green_share(d, True)) == (0, 30.0, 0.1)


# -- properties over random histories ----------------------------------------------------

alarm_states = st.sampled_from([OK, OK, OK, ALARM, NODATA])
requests = st.sampled_from([None] * 8 + list(Request))
ticks = st.lists(
    st.tuples(
        st.floats(0.0, 3.0),  # seconds until the next pass
        st.sampled_from([READY] * 6 + [Green.ABSENT, Green.FAILED]),
        alarm_states,
        requests,
        st.booleans(),  # green stopped (only matters while rolling back)
    ),
    max_size=60,
)
policies = st.builds(
    deployment,
    kind=st.sampled_from(list(RoutingType)),
    percent=st.integers(10, 50),
    bake=st.integers(0, 3),
    termination_wait=st.integers(0, 3),
    timeout=st.none() | st.integers(5, 60),
    pause_on_insufficient_data=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(policies, ticks)
def test_traffic_follows_the_safety_rules(
    d: Deployment, history: list[tuple[float, Green, AlarmState, Request | None, bool]]
) -> None:
    """Each recorded state is published before the next decision (as the reconciler does)."""
    now = 0.0
    for dt, green, alarm, request, stopped in history:
        now += dt
        if request is not None and not d.phase.finished:
            d = replace(d, requested=request)
        facts = Facts(now, green, "boom", stopped, None, {"errors": alarm})
        for _ in range(20):
            change = decide(d, facts)
            if change is None:
                break
            before, d = d, change.deployment
            if watches_alarms(before) and alarm is ALARM:
                assert d.phase is Phase.ROLLING_BACK, "an ALARM while baking must roll back"
            if d.phase is Phase.SUCCEEDED:
                assert green_share(before, green is READY) == 1.0, "finished before 100% green"
            share = green_share(d, green is READY)
            if green is not READY and d.phase is not Phase.SUCCEEDED:
                assert share == 0.0, "traffic on a green fleet that is not provisioned"
            if d.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK, Phase.ROLLBACK_FAILED):
                assert share == 0.0, "a rollback leaves traffic on green"
            assert share in {0.0, 1.0} | {s.green_share for s in d.steps}
            if change.event.green_share is not None and d.phase is not Phase.SUCCEEDED:
                assert change.event.green_share == green_share(d, True)
        else:
            raise AssertionError("decide does not settle")
        if d.phase.finished:
            assert decide(d, facts) is None
