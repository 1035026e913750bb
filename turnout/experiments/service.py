"""Feedback and experiments as a service: what the native API and the auto-promoter call.

Synchronous, like `turnout.service` (facades call it from worker threads).

What a report counts (ADR 0013, 0025): users first exposed between the experiment's start
and its stop, and their events from their exposure on (within the metric's window). Per
user: a binary metric is 1 when any event is > 0, else 0; a numeric metric is the mean (or
sum) of their events, capped if asked, and averaged over all exposed users with 0 for the
silent ones (default) or over users with events only; a ratio metric divides the sums of
two metrics' per-user sums (delta method).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from turnout.deploy.plans import DesiredVariant
from turnout.errors import Conflict, InvalidRequest, NotFound
from turnout.experiments.aggregates import caps, query_of, variant_data
from turnout.experiments.analysis import Report, analyse
from turnout.experiments.decision import Decision, Verdict, decide
from turnout.experiments.definition import Experiment, Method, MetricKind
from turnout.experiments.phases import Phase, current_phase, fingerprint, shares_of
from turnout.experiments.sequential import SequentialState
from turnout.experiments.store import ExperimentStore
from turnout.service import ControlPlane
from turnout.store.experiments import MAX_VALUE, ExperimentRow, FeedbackRow, Span

log = logging.getLogger("turnout.experiments")

MAX_EVENTS = 10_000  # per feedback request
FEEDBACK_MAX_BYTES = 6 * 1024 * 1024  # a feedback request's body
MAX_ID = 256  # characters of a user or inference id
AUTO_PROMOTE_EVERY = 10.0  # s between the auto-promoter's looks


@dataclass(frozen=True)
class FeedbackEvent:
    """One outcome: for a user or an inference id, a metric's value, at a time (or now)."""

    metric: str
    value: float
    user: str | None = None
    inference_id: str | None = None
    at: float | None = None


@dataclass(frozen=True)
class ExperimentReport:
    record: ExperimentRow
    report: Report
    decision: Decision
    feedback: Mapping[str, tuple[int, int, int]]  # metric -> (events, unmatched, out of range)
    span: Span  # which exposures and events counted
    caps: Mapping[str, float | None]  # per numeric metric, the cap applied (if any)
    phase: Phase | None = None  # the phase analysed (its start is the span's)


def experiment_document(e: Experiment) -> dict[str, Any]:
    return e.to_document()


def experiment_of(document: Mapping[str, Any]) -> Experiment:
    return Experiment.from_document(dict(document))


class ExperimentService:
    def __init__(
        self,
        store: ExperimentStore,
        control: ControlPlane,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._control = control
        self._clock = clock

    # --- feedback ---------------------------------------------------------------------
    def record_feedback(self, endpoint: str, events: Sequence[FeedbackEvent]) -> int:
        """Validate every event, then store them all (or none); returns how many."""
        self._control.describe_endpoint(endpoint)  # NotFound for an unknown endpoint
        if not events:
            raise InvalidRequest("Send at least one feedback event.")
        if len(events) > MAX_EVENTS:
            raise InvalidRequest(f"At most {MAX_EVENTS:,} feedback events per request.")
        now = self._clock()
        rows = [_row(endpoint, i, e, now) for i, e in enumerate(events, start=1)]
        self._store.add_feedback(rows)
        return len(rows)

    # --- experiments ------------------------------------------------------------------
    def create(self, endpoint: str, experiment: Experiment, auto_promote: bool) -> ExperimentRow:
        experiment = experiment.validated()
        current, _ = self._control.endpoint_fleets(endpoint)
        known = {v.name for v in current.config.variants}
        missing = [v for v in experiment.variants if v not in known]
        if missing:
            raise InvalidRequest(
                f'Endpoint {endpoint} has no variant "{missing[0]}"; its variants are: '
                f"{', '.join(sorted(known))}."
            )
        return self._store.add_experiment(
            endpoint, experiment.name, experiment_document(experiment), auto_promote,
            self._clock(),
        )  # fmt: skip

    def list_for(self, endpoint: str) -> list[ExperimentRow]:
        self._control.describe_endpoint(endpoint)
        return self._store.list_experiments(endpoint)

    def get(self, endpoint: str, name: str) -> ExperimentRow:
        return self._store.get_experiment(endpoint, name)

    def stop(self, endpoint: str, name: str) -> ExperimentRow:
        record = self._store.get_experiment(endpoint, name)
        if record.status != "running":
            raise Conflict(f"Experiment {name} is {record.status} already.")
        self._store.finish_experiment(
            endpoint, name, "stopped", "stopped by request", self._clock()
        )
        return self._store.get_experiment(endpoint, name)

    def report(self, endpoint: str, name: str) -> ExperimentReport:
        record = self._store.get_experiment(endpoint, name)
        experiment = experiment_of(record.definition)
        metrics = (experiment.primary, *experiment.guardrails)
        stored = record.state or {}
        previous = Phase.of_document(stored.get("phase"))
        running = record.status == "running"  # a stopped one's data no longer change
        phase = (
            self._phase(record, experiment, previous) if running or previous is None else (previous)
        )
        # Over the current phase only: its users, its weights, a sequential state of its own.
        span = Span(phase.start, record.stopped_at)
        state = SequentialState.from_json(
            stored if previous is not None and previous.number == phase.number else None
        )
        if not experiment.shares:
            experiment = replace(experiment, shares=dict(phase.shares))
        totals = self._store.metric_totals(endpoint, {m.name: query_of(m) for m in metrics}, span)
        applied = caps(totals)
        adjusted = {
            m.name: (query_of(m), m.covariate, m.kind is MetricKind.BINARY, applied.get(m.name))
            for m in metrics
            if m.covariate is not None
        }
        joint = self._store.joint_totals(endpoint, adjusted, span) if adjusted else None
        report = analyse(experiment, variant_data(experiment, totals, joint), state)
        if running:
            document = {**report.state.to_json(), "phase": phase.document()}
            if _news(stored, document):
                self._store.save_state(endpoint, name, document, record.state_version)
            else:  # the same data seen again (a dashboard polls): no write, not a new look
                report = replace(report, state=replace(report.state, looks=state.looks))
        return ExperimentReport(
            record, report, decide(report), self._store.feedback_counts(endpoint), span,
            applied, phase,
        )  # fmt: skip

    def _phase(
        self, record: ExperimentRow, experiment: Experiment, previous: Phase | None
    ) -> Phase:
        """The phase in force now: a new one if the experiment's variants' weights or the
        endpoint's salt or targeting rules changed since the stored one."""
        endpoint = self._control.describe_endpoint(record.endpoint)
        weights = {
            v.name: v.current_weight if v.current_weight is not None else v.desired_weight
            for v in endpoint.variants
        }
        shares = shares_of(experiment.variants, weights)
        salt, document = self._store.routing(record.endpoint) or ("", {})
        assignment = fingerprint(salt, document.get("rules"))
        moved = previous is not None and previous.assignment != assignment
        return current_phase(
            previous,
            shares,
            assignment,
            created_at=record.created_at,
            changed_at=self._clock() if moved else endpoint.last_modified_at,
        )

    # --- auto-promote -----------------------------------------------------------------
    def promote_winners(self) -> list[str]:
        """Shift all traffic to the winner of each running auto-promote experiment whose
        sequential test found one (no guardrail harmed: `decide` checks those first)."""
        promoted = []
        for record in self._store.list_experiments():
            if record.status != "running" or not record.auto_promote:
                continue
            if experiment_of(record.definition).method is not Method.SEQUENTIAL:
                continue
            try:
                result = self.report(record.endpoint, record.name)
                if result.decision.verdict is Verdict.WINNER and result.decision.variant:
                    self._promote(record, result.decision)
                    promoted.append(record.name)
            except (Conflict, NotFound) as exc:  # e.g. the endpoint is Updating: next time
                log.info("experiment %s: not promoted now: %s", record.name, exc)
            except Exception:  # one experiment's failure must not hold up the others'
                log.exception("experiment %s on %s: auto-promote failed", record.name,
                              record.endpoint)  # fmt: skip
        return promoted

    def _promote(self, record: ExperimentRow, decision: Decision) -> None:
        winner = decision.variant
        endpoint = self._control.describe_endpoint(record.endpoint)
        changes = [
            DesiredVariant(v.name, 1.0 if v.name == winner else 0.0) for v in endpoint.variants
        ]
        self._control.update_endpoint_weights_and_capacities(record.endpoint, changes)
        outcome = f"promoted {winner} to 100% of traffic: {decision.message}"
        self._store.finish_experiment(
            record.endpoint, record.name, "promoted", outcome, self._clock()
        )
        log.info("experiment %s on %s: %s", record.name, record.endpoint, outcome)


async def auto_promote(service: ExperimentService, every: float = AUTO_PROMOTE_EVERY) -> None:
    """The runtime's task: look for winners to promote every `every` seconds."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(service.promote_winners)
        except Exception:  # a store hiccup must not end the task
            log.exception("auto-promote pass failed")


def _row(endpoint: str, i: int, e: FeedbackEvent, now: float) -> FeedbackRow:
    where = f"Feedback event {i}"
    if (e.user is None) == (e.inference_id is None):
        raise InvalidRequest(f"{where}: give exactly one of user and inference_id.")
    for field, text in (("user", e.user), ("inference_id", e.inference_id)):
        if text is not None and not 0 < len(text) <= MAX_ID:
            raise InvalidRequest(f"{where}: {field} must be 1 to {MAX_ID} characters.")
    if not e.metric or len(e.metric) > 63:
        raise InvalidRequest(f"{where}: metric must be a name of 1 to 63 characters.")
    if not math.isfinite(e.value):
        raise InvalidRequest(f"{where}: value must be a finite number.")
    if abs(e.value) > MAX_VALUE:
        raise InvalidRequest(
            f"{where}: value {e.value:g} is out of range: at most {MAX_VALUE:g} either way."
        )
    at = now if e.at is None else e.at
    if not (math.isfinite(at) and 0 <= at <= now + 300):
        raise InvalidRequest(f"{where}: timestamp must be seconds since the epoch, not ahead.")
    return FeedbackRow(endpoint, e.user, e.inference_id, e.metric, float(e.value), at)


def _news(stored: dict[str, Any], document: dict[str, Any]) -> bool:
    """Whether a look's state differs from the stored one in more than its look count."""
    return {**stored, "looks": None} != {**document, "looks": None}
