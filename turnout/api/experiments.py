"""Routing settings, feedback and experiments in the native REST API (ADR 0013).

GET/PUT /api/v1/endpoints/{name}/routing
POST    /api/v1/endpoints/{name}/feedback          one event, or {"events": [...]}
POST/GET /api/v1/endpoints/{name}/experiments
GET     /api/v1/endpoints/{name}/experiments/{experiment}              the report
GET     /api/v1/endpoints/{name}/experiments/{experiment}/report.csv
POST    /api/v1/endpoints/{name}/experiments/{experiment}/stop
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from turnout.domain.routing import RoutingSettings
from turnout.experiments.analysis import Comparison
from turnout.experiments.definition import Experiment, Method, Metric
from turnout.experiments.routing import RoutingService
from turnout.experiments.service import (
    MAX_EVENTS,
    ExperimentReport,
    ExperimentService,
    FeedbackEvent,
)
from turnout.experiments.statistics import Interval
from turnout.store.experiments import MAX_VALUE, ExperimentRow

_STRICT = ConfigDict(extra="forbid")


class AssignmentKeyIn(BaseModel):
    model_config = _STRICT
    header: str | None = None
    cookie: str | None = None
    custom_attribute: str | None = None


class RoutingIn(BaseModel):
    """Fields left out keep their value; a key source set to null is switched off."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "assignment_key": {"header": "X-Turnout-User", "cookie": "turnout_user"},
                "rules": [
                    {"type": "users", "users": ["alice", "bob"], "variant": "B"},
                    {"type": "header", "header": "X-Country", "operator": "in",
                     "values": ["FR", "BE"], "variant": "B"},
                ],
            }
        },
    )  # fmt: skip
    assignment_key: AssignmentKeyIn | None = None
    rules: list[dict[str, Any]] | None = None


class RoutingOut(BaseModel):
    assignment_key: dict[str, str | None]
    rules: list[dict[str, Any]]

    @classmethod
    def of(cls, settings: RoutingSettings) -> RoutingOut:
        return cls(**settings.document())


class FeedbackIn(BaseModel):
    model_config = _STRICT
    metric: str = Field(description="The metric's name, e.g. converted.")
    value: bool | float = Field(description="true/false (binary metric) or a number.")
    user: str | None = Field(None, description="The assignment key of the user.")
    inference_id: str | None = Field(None, description="The X-Amzn-SageMaker-Inference-Id.")
    timestamp: float | None = Field(None, description="Seconds since the epoch; default now.")

    def event(self) -> FeedbackEvent:
        return FeedbackEvent(
            self.metric, float(self.value), self.user, self.inference_id, self.timestamp
        )


class FeedbackBatchIn(BaseModel):
    model_config = _STRICT
    events: list[FeedbackIn] = Field(max_length=MAX_EVENTS)


class FeedbackOut(BaseModel):
    accepted: int


class CapIn(BaseModel):
    model_config = _STRICT
    value: float | None = Field(None, description="Cap per-user values at this number.")
    percentile: float | None = Field(
        None, description="...or at this percentile of them (0.5-0.9999), e.g. 0.99."
    )


class MetricIn(BaseModel):
    """A metric, named as its feedback events are (a ratio names itself and its two)."""

    model_config = _STRICT
    name: str
    kind: Literal["binary", "numeric", "ratio"] = Field(
        "binary",
        description="binary: converted or not; numeric: a number per user; ratio: the sum "
        "over users of `numerator` / the sum of `denominator` (delta method).",
    )
    direction: Literal["higher", "lower"] = "higher"
    over: Literal["exposed", "users_with_events"] | None = Field(
        None,
        description="Numeric: average over all exposed users, no event counting 0 "
        "(exposed, the default), or over users with an event only.",
    )
    per_user: Literal["mean", "sum"] | None = Field(
        None, description="Numeric: a user's value is the mean (default) or sum of events."
    )
    window: float | None = Field(
        None,
        description="Seconds from the user's first exposure in which events count "
        "(default: until the experiment stops).",
    )
    cap: CapIn | None = Field(None, description="Numeric: winsorize per-user values.")
    numerator: str | None = Field(None, description="Ratio: the feedback metric summed on top.")
    denominator: str | None = Field(None, description="Ratio: ...and the one below.")
    covariate: str | None = Field(
        None,
        description="CUPED: a feedback metric holding a value known before the experiment "
        "(e.g. last month's spend; the mean of a user's events, any time); the comparison is "
        "adjusted for it. Binary metrics, and numeric ones over all exposed users.",
    )

    def metric(self, where: str) -> Metric:
        document = self.model_dump(exclude_none=True)
        if self.cap is not None:
            document["cap"] = self.cap.model_dump(exclude_none=True)
        return Metric.from_document(document, where)


class ExperimentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "name": "checkout-v2", "variants": ["A", "B"], "control": "A",
                "primary": {"name": "converted"},
                "guardrails": [
                    {"name": "latency_ms", "kind": "numeric", "direction": "lower"},
                    {"name": "revenue", "kind": "numeric", "window": 86400,
                     "cap": {"percentile": 0.99}},
                    {"name": "revenue_per_order", "kind": "ratio", "numerator": "revenue",
                     "denominator": "orders"},
                ],
                "minimum_sample": 1000, "alpha": 0.05, "method": "sequential",
            }
        },
    )  # fmt: skip
    name: str
    variants: list[str] = Field(max_length=10)
    control: str
    primary: MetricIn
    guardrails: list[MetricIn] = Field(default_factory=list, max_length=20)
    minimum_sample: int = 1000
    alpha: float = 0.05
    method: Literal["sequential", "fixed_horizon", "bayesian"] = "sequential"
    shares: dict[str, float] = Field(default_factory=dict)
    auto_promote: bool = Field(
        False,
        description="Shift 100% of traffic to the winner once the sequential test finds "
        "one on the primary metric with no guardrail harmed.",
    )
    new_salt: bool = Field(
        False,
        description="Re-randomize as the experiment starts: the endpoint's sticky assignment "
        "gets a new salt, so users are split afresh rather than as in an earlier experiment "
        "(returning users may change variant; they do not count in this experiment).",
    )

    def experiment(self) -> Experiment:
        return Experiment(
            name=self.name,
            variants=tuple(self.variants),
            control=self.control,
            primary=self.primary.metric("primary metric"),
            guardrails=tuple(
                g.metric(f"guardrail {i}") for i, g in enumerate(self.guardrails, start=1)
            ),
            minimum_sample=self.minimum_sample,
            alpha=self.alpha,
            method=Method(self.method),
            shares=self.shares,
        )


def experiment_out(record: ExperimentRow) -> dict[str, Any]:
    return {
        "endpoint": record.endpoint,
        "name": record.name,
        "definition": record.definition,
        "auto_promote": record.auto_promote,
        "status": record.status,
        "created_at": record.created_at,
        "stopped_at": record.stopped_at,
        "outcome": record.outcome,
    }


def _number(x: float | None) -> float | None:
    """JSON has no NaN or infinity: an unknown value is null."""
    return x if x is not None and math.isfinite(x) else None


def _interval(i: Interval | None) -> dict[str, float | None] | None:
    if i is None:
        return None
    return {"value": _number(i.value), "low": _number(i.low), "high": _number(i.high)}


def _comparison(c: Comparison, role: str) -> dict[str, Any]:
    return {
        "metric": c.metric.name,
        "role": role,
        "kind": c.metric.kind.value,
        "variant": c.variant,
        "control": _interval(c.control),
        "treatment": _interval(c.treatment),
        "lift_absolute": _interval(c.absolute),
        "lift_relative": _interval(c.relative),
        "p_value": _number(c.p_value),
        "p_value_sequential": _number(c.always_valid_p),
        "chance_to_beat_control": _number(c.chance_to_beat),
        "significant": c.significant,
        "read": c.read,
        "variance_removed": _number(c.variance_removed),
    }


def report_out(result: ExperimentReport) -> dict[str, Any]:
    report = result.report
    return {
        **experiment_out(result.record),
        "users": dict(report.users),
        "sample_ratio_p": _number(report.sample_ratio_p),
        "sample_ratio_mismatch": report.sample_ratio_mismatch,
        "expected_shares": dict(report.expected_shares),
        "sample_ratio_test": report.srm_test,
        "looks": report.state.looks,
        "phase": None
        if result.phase is None
        else {
            "number": result.phase.number,
            "start": result.phase.start,
            "shares": dict(result.phase.shares),
        },
        "comparisons": [_comparison(c, "primary") for c in report.primary]
        + [_comparison(c, "guardrail") for c in report.guardrails],
        "decision": {
            "verdict": result.decision.verdict.value,
            "message": result.decision.message,
            "variant": result.decision.variant,
        },
        "feedback": {
            metric: {"events": events, "unmatched": unmatched, "out_of_range": out_of_range}
            for metric, (events, unmatched, out_of_range) in sorted(result.feedback.items())
        },
        "assumptions": assumptions(result),
    }


def assumptions(result: ExperimentReport) -> dict[str, Any]:
    """What the numbers count: the span of exposures and, per metric, its users, per-user
    value, window and cap (with a percentile cap's value as computed)."""
    experiment = result.report.experiment
    metrics = []
    for m in (experiment.primary, *experiment.guardrails):
        described = m.describe()
        cap = result.caps.get(m.name)
        if m.cap is not None and m.cap.percentile is not None:
            described["cap"] += f" ({_number(cap)})" if cap is not None else " (no data yet)"
        metrics.append(described)
    return {
        "counted_from": result.span.start,
        "counted_until": result.span.end,
        "users": "randomized users first exposed between the start and the stop "
        "(targeted users and users first served before the start are not counted)",
        "events": f"from the user's first exposure on; |value| over {MAX_VALUE:g} left out",
        "metrics": metrics,
    }


_CSV_COLUMNS = (
    "metric", "role", "variant", "users", "control_value", "value", "value_low", "value_high",
    "lift_abs", "lift_abs_low", "lift_abs_high", "lift_rel", "lift_rel_low", "lift_rel_high",
    "p_value", "p_value_sequential", "chance_to_beat_control", "significant",
)  # fmt: skip


def report_csv(result: ExperimentReport) -> str:
    """One row per treatment and metric; then, as comment lines, what each metric counts and
    the decision (last)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    users = result.report.users
    for role, comparisons in (("primary", result.report.primary),
                              ("guardrail", result.report.guardrails)):  # fmt: skip
        for c in comparisons:
            rel = c.relative
            cells = (
                c.control.value, c.treatment.value, c.treatment.low, c.treatment.high,
                c.absolute.value, c.absolute.low, c.absolute.high,
                rel.value if rel else None, rel.low if rel else None, rel.high if rel else None,
                c.p_value, c.always_valid_p, c.chance_to_beat,
            )  # fmt: skip
            writer.writerow(
                [c.metric.name, role, c.variant, users.get(c.variant, 0)]
                + ["" if _number(x) is None else f"{x:.6g}" for x in cells]
                + [str(c.significant).lower()]
            )
    for m in assumptions(result)["metrics"]:
        described = "; ".join(
            str(m[k]) for k in ("users", "per_user", "window", "cap") if m[k] is not None
        )
        _comment(out, f"{m['metric']}: {described}")
    _comment(out, f"decision: {result.decision.verdict.value}: {result.decision.message}")
    return out.getvalue()


def _comment(out: io.StringIO, text: str) -> None:
    """A `# ...` line as is: through the CSV writer, a comma in it would quote the line and
    it would no longer start with `#`."""
    out.write("# " + " ".join(text.splitlines()) + "\n")


def experiment_routes(
    routing: RoutingService,
    experiments: ExperimentService,
    errors: dict[int | str, dict[str, Any]],
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/endpoints/{name}")

    @router.get("/routing", responses=errors, tags=["routing"])
    def get_routing(name: str) -> RoutingOut:
        """Where the assignment key comes from, and the targeting rules."""
        return RoutingOut.of(routing.get(name))

    @router.put("/routing", responses=errors, tags=["routing"])
    def put_routing(name: str, body: RoutingIn) -> RoutingOut:
        """Change the key sources and/or targeting rules; the router applies them at once."""
        document = body.model_dump(exclude_none=True)
        if body.assignment_key is not None:  # null switches a source off: keep those
            document["assignment_key"] = body.assignment_key.model_dump(exclude_unset=True)
        return RoutingOut.of(routing.update(name, document))

    @router.post("/feedback", responses=errors, tags=["experiments"])
    def post_feedback(name: str, body: FeedbackIn | FeedbackBatchIn) -> FeedbackOut:
        """Outcome events by user or inference id: one, or up to 10,000 as {"events": [...]}."""
        events = body.events if isinstance(body, FeedbackBatchIn) else [body]
        return FeedbackOut(accepted=experiments.record_feedback(name, [e.event() for e in events]))

    @router.post("/experiments", status_code=201, responses=errors, tags=["experiments"])
    def create_experiment(name: str, body: ExperimentIn) -> dict[str, Any]:
        created = experiments.create(name, body.experiment(), body.auto_promote)
        if body.new_salt:  # after the checks, before any report fixes the first phase
            routing.resalt(name)
        return experiment_out(created)

    @router.get("/experiments", responses=errors, tags=["experiments"])
    def list_experiments(name: str) -> list[dict[str, Any]]:
        return [experiment_out(r) for r in experiments.list_for(name)]

    @router.get("/experiments/{experiment}", responses=errors, tags=["experiments"])
    def experiment_report(name: str, experiment: str) -> dict[str, Any]:
        """The experiment with its report: per variant against the control, and a decision."""
        return report_out(experiments.report(name, experiment))

    @router.get("/experiments/{experiment}/report.csv", responses=errors, tags=["experiments"])
    def experiment_csv(name: str, experiment: str) -> Response:
        return Response(report_csv(experiments.report(name, experiment)), media_type="text/csv")

    @router.post("/experiments/{experiment}/stop", responses=errors, tags=["experiments"])
    def stop_experiment(name: str, experiment: str) -> dict[str, Any]:
        return experiment_out(experiments.stop(name, experiment))

    return router
