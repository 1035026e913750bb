"""Feedback and experiments as a service: what the native API and the auto-promoter call.

Synchronous, like `turnout.service` (facades call it from worker threads).

Per-user aggregation (ADR 0013): for a binary metric a user counts 1 when any of their
events has a value > 0, else 0 (users exposed but silent count 0); for a numeric metric a
user's value is the mean of their events, over the users who sent at least one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from turnout.deploy.plans import DesiredVariant
from turnout.errors import Conflict, InvalidRequest, NotFound
from turnout.experiments.analysis import Report, VariantData, analyse
from turnout.experiments.decision import Decision, Verdict, decide
from turnout.experiments.definition import (
    Direction,
    Experiment,
    Method,
    Metric,
    MetricKind,
)
from turnout.experiments.statistics import Moments
from turnout.experiments.store import ExperimentStore
from turnout.service import ControlPlane
from turnout.store.experiments import ExperimentRow, FeedbackRow, MetricTotals

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
    feedback: Mapping[str, tuple[int, int]]  # metric -> (events, unmatched)


def experiment_document(e: Experiment) -> dict[str, Any]:
    def metric(m: Metric) -> dict[str, str]:
        return {"name": m.name, "kind": m.kind.value, "direction": m.direction.value}

    return {
        "name": e.name,
        "variants": list(e.variants),
        "control": e.control,
        "primary": metric(e.primary),
        "guardrails": [metric(g) for g in e.guardrails],
        "minimum_sample": e.minimum_sample,
        "alpha": e.alpha,
        "method": e.method.value,
        "shares": dict(e.shares),
    }


def experiment_of(document: Mapping[str, Any]) -> Experiment:
    def metric(m: Mapping[str, Any]) -> Metric:
        return Metric(m["name"], MetricKind(m["kind"]), Direction(m["direction"]))

    return Experiment(
        name=document["name"],
        variants=tuple(document["variants"]),
        control=document["control"],
        primary=metric(document["primary"]),
        guardrails=tuple(metric(g) for g in document["guardrails"]),
        minimum_sample=document["minimum_sample"],
        alpha=document["alpha"],
        method=Method(document["method"]),
        shares=dict(document["shares"]),
    )


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
        totals = self._store.metric_totals(endpoint, [m.name for m in metrics])
        data = variant_data(experiment, totals)
        report = analyse(experiment, data)
        return ExperimentReport(
            record, report, decide(report), self._store.feedback_counts(endpoint)
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


def variant_data(
    experiment: Experiment, totals: Mapping[str, Mapping[str, MetricTotals]]
) -> dict[str, VariantData]:
    """The store's per-variant totals as the analysis' per-user moments."""
    data = {}
    for variant in experiment.variants:
        users = 0
        moments = {}
        for metric in (experiment.primary, *experiment.guardrails):
            t = totals.get(metric.name, {}).get(variant)
            if t is None:
                continue
            users = t.users
            if metric.kind is MetricKind.BINARY:
                moments[metric.name] = Moments(t.users, float(t.converted), float(t.converted))
            else:
                moments[metric.name] = Moments(t.with_data, t.total, t.total_sq)
        data[variant] = VariantData(users, moments)
    return data


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
    at = now if e.at is None else e.at
    if not (math.isfinite(at) and 0 <= at <= now + 300):
        raise InvalidRequest(f"{where}: timestamp must be seconds since the epoch, not ahead.")
    return FeedbackRow(endpoint, e.user, e.inference_id, e.metric, float(e.value), at)
