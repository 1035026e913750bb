"""The rollout state machine of a guarded blue/green deployment. Pure: no I/O, no clock.

Given the persisted deployment and what the controller observes now (`Facts`), `decide`
returns the next state to record (with its history event), or None to wait. The controller
records it first and then makes the routing and fleets match it (`green_share`), so a
crash between the two is repaired by doing the second again.

    Provisioning ─green ready─▶ Baking(1) ─baked─▶ … Baking(n, 100%) ─baked─▶ TerminationWait
         │  │                      │  ▲ interrupted (green lost) / resumed       │ waited
         │  └─ green ready, ──▶ Validating ─test passed─▶ Baking(1)             ▼
         │     with a test         │ test failed                             Succeeded
         │ green failed,           │ ALARM, timeout, rollback request
         └──── timeout ──────▶ RollingBack ─green stopped─▶ RolledBack
                                   └────blue cannot start──▶ RollbackFailed

A deployment with a prediction test validates green first (ADR 0022): the controller runs
the test on the green fleet alone while all traffic stays on blue, and reports its outcome
as a fact; a failure rolls back with the test's summary as the reason, even when paused; a
pass goes on to the first step unless paused.

Pause keeps the current step (alarms still roll back); resume goes on, past an alarm with
INSUFFICIENT_DATA that paused it; promote skips the remaining bakes to the termination wait
(and, there, ends it). After a restart the green fleet is gone: its share drops to 0 until
it is provisioned again, and then the interrupted step bakes again from the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from turnout.domain.alarms import AlarmState
from turnout.domain.deployments import Deployment, Event, Phase, Request

P = Phase


class Green(StrEnum):
    """The green fleet as the live nodes report it."""

    ABSENT = "absent"  # not started on every live node: not yet, or lost in a restart
    READY = "ready"  # every instance started and answered /ping
    FAILED = "failed"  # an instance could not start


@dataclass(frozen=True)
class Validation:
    """How the deployment's prediction test went on the green fleet."""

    passed: bool
    summary: str  # one line, e.g. "failed on ...: accuracy = 0.12, wanted accuracy >= 0.9"


@dataclass(frozen=True)
class Facts:
    now: float
    green: Green = Green.ABSENT
    green_failure: str | None = None
    green_stopped: bool = False  # RollingBack: green is out of the routes and stopped
    blue_failure: str | None = None  # RollingBack: blue cannot be started
    alarms: Mapping[str, AlarmState] = field(default_factory=dict)
    validation: Validation | None = None  # Validating: the test's outcome, once known


@dataclass(frozen=True)
class Change:
    deployment: Deployment  # the state to record (revision bumped)
    event: Event


def decide(d: Deployment, f: Facts) -> Change | None:
    """The next state of `d`, or None while nothing is due."""
    if d.phase.finished:
        return None
    if d.phase is P.ROLLING_BACK:
        if f.blue_failure is not None:
            reason = f"{d.failure_reason} Rollback failed: {f.blue_failure}"
            return _finish(d, f, P.ROLLBACK_FAILED, reason, "rollback-failed", reason)
        if f.green_stopped:
            message = f"Rolled back; all traffic is on {d.blue_config}."
            return _finish(d, f, P.ROLLED_BACK, d.failure_reason, "rolled-back", message)
        return None
    rollback = _rollback_reason(d, f)
    if rollback is not None:
        return _change(
            d, f, "rolling-back", rollback, consume=True,
            phase=P.ROLLING_BACK, failure_reason=rollback, share=0.0,
        )  # fmt: skip
    request = d.requested
    if request is Request.PAUSE:
        return _change(d, f, "paused", "Paused on request.", consume=True, paused=True)
    if request is Request.RESUME and not _baked(d, f):
        return _change(d, f, "resumed", "Resumed on request.", consume=True, paused=False)
    if d.phase is P.PROVISIONING:
        if f.green is Green.READY and not d.paused:
            if d.prediction_test is not None:
                message = (
                    f"The new fleet ({d.green_config}) is ready; running its prediction test "
                    f"({d.prediction_test.describe()}) before any traffic shifts."
                )
                return _change(d, f, "validating", message, phase=P.VALIDATING)
            return _shift(d, f, 0, "shifted")
        return None
    if d.phase is P.VALIDATING:
        if f.validation is None or (d.paused and request is not Request.RESUME):
            return None
        return _shift(d, f, 0, "shifted", passed=f.validation.summary)
    if f.green is not Green.READY:  # the fleet is gone (a restart): back to blue meanwhile
        if d.step_started_at is None:
            return None
        message = (
            f"The green fleet ({d.green_config}) is not running; all traffic is on blue until "
            "it is provisioned again, then this step bakes again."
        )
        return _change(d, f, "interrupted", message, step_started_at=None, share=0.0)
    if d.step_started_at is None:  # provisioned again: the interrupted step starts over
        return _shift(d, f, d.step, "restarted", phase=d.phase, paused=d.paused)
    if request is Request.PROMOTE:
        if d.phase is P.TERMINATION_WAIT:
            message = "Promoted on request: blue retires now."
            return _finish(d, f, P.SUCCEEDED, None, "promoted", message, share=1.0)
        return _wait_to_terminate(d, f, "promoted", "Promoted on request: 100% on green.")
    if d.paused and request is not Request.RESUME:
        return None
    assert d.step_started_at is not None
    elapsed = f.now - d.step_started_at
    if d.phase is P.TERMINATION_WAIT:
        if elapsed < d.policy.blue_green.termination_wait_s:
            return None
        message = f"Succeeded; {d.green_config} serves all traffic, blue retires."
        return _finish(d, f, P.SUCCEEDED, None, "succeeded", message, share=1.0)
    if elapsed < d.current.bake_s:
        return None
    unsure = [a for a in d.policy.alarms if f.alarms.get(a) is AlarmState.INSUFFICIENT_DATA]
    if unsure and d.policy.pause_on_insufficient_data and request is not Request.RESUME:
        message = (
            f"Paused: alarm(s) {', '.join(unsure)} had INSUFFICIENT_DATA at the end of the "
            f"bake of {_step_name(d, d.step)}; resume to go on or roll back."
        )
        return _change(d, f, "paused", message, paused=True)
    if d.step + 1 < len(d.steps):
        return _shift(d, f, d.step + 1, "shifted")
    return _wait_to_terminate(d, f, "baked", "Baked at 100% on green.")


def green_share(d: Deployment, green_ready: bool) -> float:
    """Green's share of the endpoint's traffic to publish for the recorded state.

    Never above 0 unless green is provisioned and its step has started.
    """
    if d.phase is P.SUCCEEDED:
        return 1.0
    started = d.step_started_at is not None
    if d.phase in (P.BAKING, P.TERMINATION_WAIT) and green_ready and started:
        return d.current.green_share
    return 0.0


def watches_alarms(d: Deployment) -> bool:
    """Alarms roll back while a step bakes (green carrying its share)."""
    return d.phase is P.BAKING and d.step_started_at is not None


def due_at(d: Deployment) -> float | None:
    """When the next timed decision falls (end of a bake or of the termination wait)."""
    if d.step_started_at is None or d.paused:
        return None
    if d.phase is P.BAKING:
        return d.step_started_at + d.current.bake_s
    if d.phase is P.TERMINATION_WAIT:
        return d.step_started_at + d.policy.blue_green.termination_wait_s
    return None


def _rollback_reason(d: Deployment, f: Facts) -> str | None:
    if d.requested is Request.ROLLBACK:
        return "Rolled back on request."
    if f.green is Green.FAILED:
        return f"The new fleet ({d.green_config}) failed to start: {f.green_failure}"
    if d.phase is P.VALIDATING and f.validation is not None and not f.validation.passed:
        return f"Prediction test {f.validation.summary}"
    timeout = d.policy.blue_green.max_execution_timeout_s
    running = d.phase in (P.PROVISIONING, P.VALIDATING, P.BAKING)
    if timeout is not None and running and f.now - d.started_at > timeout:
        return f"The deployment exceeded MaximumExecutionTimeoutInSeconds ({timeout})."
    if watches_alarms(d):
        alarming = [a for a in d.policy.alarms if f.alarms.get(a) is AlarmState.ALARM]
        if alarming:
            return (
                f"Alarm {', '.join(alarming)} in ALARM while {_step_name(d, d.step)} baked "
                f"({d.current.green_share:.0%} of traffic on {d.green_config})."
            )
    return None


def _baked(d: Deployment, f: Facts) -> bool:
    return (
        d.phase is P.BAKING
        and f.green is Green.READY
        and d.step_started_at is not None
        and f.now - d.step_started_at >= d.current.bake_s
    )


def _step_name(d: Deployment, step: int) -> str:
    return f"step {step + 1} of {len(d.steps)}"


def _shift(
    d: Deployment,
    f: Facts,
    step: int,
    kind: str,
    phase: Phase = P.BAKING,
    paused: bool = False,
    passed: str | None = None,
) -> Change:
    """Give green the step's share from now on; a request waiting (resume) is done.
    `passed`: the summary of the prediction test that let it."""
    share = d.steps[step].green_share if phase is P.BAKING else 1.0
    message = f"Prediction test {passed}. " if passed is not None else ""
    message += f"{_step_name(d, step)}: {share:.0%} of traffic on green ({d.green_config})"
    if phase is P.BAKING:
        message += f", baking {d.steps[step].bake_s} s."
    else:
        message += "."
    return _change(
        d, f, kind, message, consume=d.requested is Request.RESUME,
        phase=phase, step=step, step_started_at=f.now, share=share, paused=paused,
    )  # fmt: skip


def _wait_to_terminate(d: Deployment, f: Facts, kind: str, message: str) -> Change:
    wait = d.policy.blue_green.termination_wait_s
    return _change(
        d, f, kind, f"{message} Blue retires in {wait} s.", consume=True,
        phase=P.TERMINATION_WAIT, step=len(d.steps) - 1, step_started_at=f.now, share=1.0,
        paused=False,
    )  # fmt: skip


def _finish(
    d: Deployment,
    f: Facts,
    phase: Phase,
    reason: str | None,
    kind: str,
    message: str,
    share: float | None = None,
) -> Change:
    return _change(
        d, f, kind, message, consume=True,
        phase=phase, failure_reason=reason, finished_at=f.now, share=share,
    )  # fmt: skip


def _change(
    d: Deployment,
    f: Facts,
    kind: str,
    message: str,
    *,
    consume: bool = False,
    share: float | None = None,
    **changes: object,
) -> Change:
    """`d` changed as told, one revision on; `consume`: the waiting request is done."""
    requested = None if consume else d.requested
    new = replace(d, revision=d.revision + 1, requested=requested, **changes)  # type: ignore[arg-type]
    return Change(new, Event(f.now, kind, message, new.step, share))
