"""From per-variant aggregates to an experiment report: every treatment against the control.

`analyse` is pure. It takes the state the previous report returned (`SequentialState`,
ADR 0024) and returns the new one: always-valid p-values are running minima over looks,
the sequential method's intervals are running intersections of confidence sequences, and a
fixed-horizon or Bayesian experiment is read once, at its planned sample. Without a state
the report reads the current look only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from turnout.experiments import cuped, srm
from turnout.experiments import sequential as sq
from turnout.experiments import statistics as st
from turnout.experiments.definition import Direction, Experiment, Method, Metric, MetricKind
from turnout.experiments.sequential import ComparisonState, PlannedRead, SequentialState
from turnout.experiments.statistics import Interval, Moments

# The sequential sample-ratio test's level: checked at every look, yet alarms in a true
# split stay below this (srm.py).
SRM_ALPHA = 0.001
_EMPTY = Moments(0, 0.0, 0.0)
_UNKNOWN = Interval(math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class VariantData:
    """What the store keeps per variant: users exposed and running sums per metric.

    `covariates` optionally holds, per metric, the joint moments of the metric and a
    pre-experiment covariate of the same users; with them the metric is CUPED-adjusted.
    """

    users: int
    metrics: Mapping[str, Moments]
    covariates: Mapping[str, cuped.JointMoments] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """One metric of one treatment against the control.

    `chance_to_beat` is the posterior chance that the treatment is better in the metric's
    direction; `significant` applies the experiment's method at its (adjusted) alpha.
    `always_valid_p` is the running minimum over looks. `read` is "better", "worse" or
    "none" once a one-read method has read the primary metric at its planned sample.
    `variance_removed` is CUPED's share of the lift's variance removed (None: no CUPED).
    """

    metric: Metric
    variant: str
    control: Interval
    treatment: Interval
    absolute: Interval
    relative: Interval | None
    p_value: float
    always_valid_p: float
    chance_to_beat: float
    significant: bool
    read: str | None = None
    variance_removed: float | None = None

    @property
    def better(self) -> bool:
        """Whether the treatment lies in the metric's good direction (at the read, if any)."""
        if self.read in ("better", "worse"):
            return self.read == "better"
        diff = self.absolute.value
        return diff > 0 if self.metric.direction is Direction.HIGHER else diff < 0


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    users: Mapping[str, int]
    sample_ratio_p: float  # always-valid, the running minimum over looks
    primary: tuple[Comparison, ...]
    guardrails: tuple[Comparison, ...]
    expected_shares: Mapping[str, float] = field(default_factory=dict)
    srm_test: str = srm.TEST_NAME
    state: SequentialState = field(default_factory=SequentialState)

    @property
    def sample_ratio_mismatch(self) -> bool:
        return self.sample_ratio_p <= SRM_ALPHA

    @property
    def short_of_minimum(self) -> dict[str, int]:
        """Variants below the minimum sample, with their users."""
        need = self.experiment.minimum_sample
        return {v: n for v, n in self.users.items() if n < need}

    @property
    def planned_read(self) -> PlannedRead | None:
        """A one-read method's read at its planned sample, once taken."""
        return self.state.planned_read


def analyse(
    experiment: Experiment,
    data: Mapping[str, VariantData],
    state: SequentialState | None = None,
) -> Report:
    """Compare every treatment with the control on the primary metric and the guardrails.

    The primary metric's alpha is split among the treatments (Bonferroni), so adding arms
    does not add false winners; guardrails use the full alpha, erring towards alarms, and
    are always judged by the always-valid test: they are watched at every look, whatever
    the method.
    """
    state = state or SequentialState()
    users = {v: data[v].users if v in data else 0 for v in experiment.variants}
    shares = experiment.expected_shares()
    srm_p = float(
        srm.always_valid_p([users[v] for v in experiment.variants],
                           [shares[v] for v in experiment.variants])
    )  # fmt: skip
    srm_p = min(srm_p, state.srm_min_p)
    primary_alpha = experiment.alpha / len(experiment.treatments)
    updated: dict[str, ComparisonState] = {}

    def compare(metric: Metric, alpha: float, method: Method) -> tuple[Comparison, ...]:
        adjusted = _cuped(data, experiment, metric)
        out = []
        for v in experiment.treatments:
            previous = state.comparison(metric.name, v)
            c, new = _compare(metric, v, data, adjusted, experiment, alpha, method, previous)
            updated[sq.key(metric.name, v)] = new
            out.append(c)
        return tuple(out)

    primary = compare(experiment.primary, primary_alpha, experiment.method)
    guardrails = tuple(
        c for g in experiment.guardrails for c in compare(g, experiment.alpha, Method.SEQUENTIAL)
    )
    new_state = state.with_comparisons(updated, srm_p)
    if experiment.method is not Method.SEQUENTIAL:
        primary, new_state = _planned_read(experiment, users, primary, new_state)
    return Report(
        experiment=experiment,
        users=users,
        sample_ratio_p=srm_p,
        primary=primary,
        guardrails=guardrails,
        expected_shares=shares,
        state=new_state,
    )


def _planned_read(
    experiment: Experiment,
    users: Mapping[str, int],
    primary: tuple[Comparison, ...],
    state: SequentialState,
) -> tuple[tuple[Comparison, ...], SequentialState]:
    """A one-read method decides once, at the first look where every variant has its
    planned sample (`minimum_sample`); later looks keep that read. Before it, nothing is
    significant on the primary metric, whatever the data."""
    read = state.planned_read
    if read is None:
        if any(n < experiment.minimum_sample for n in users.values()):
            return tuple(replace(c, significant=False) for c in primary), state
        outcomes = {
            c.variant: ("better" if c.better else "worse") if c.significant else "none"
            for c in primary
        }
        read = PlannedRead(dict(users), outcomes)
        state = replace(state, planned_read=read)
    frozen = tuple(
        replace(c, significant=read.outcomes.get(c.variant, "none") != "none",
                 read=read.outcomes.get(c.variant, "none"))
        for c in primary
    )  # fmt: skip
    return frozen, state


def _moments(data: Mapping[str, VariantData], variant: str, metric: Metric) -> Moments:
    entry = data.get(variant)
    return entry.metrics.get(metric.name, _EMPTY) if entry else _EMPTY


def _cuped(
    data: Mapping[str, VariantData], experiment: Experiment, metric: Metric
) -> dict[str, cuped.Adjusted] | None:
    """CUPED-adjusted moments per variant when every variant carries the covariate."""
    joint = {v: data[v].covariates.get(metric.name) if v in data else None
             for v in experiment.variants}  # fmt: skip
    if any(j is None for j in joint.values()):
        return None
    return cuped.adjust({v: j for v, j in joint.items() if j is not None})


def _compare(
    metric: Metric,
    variant: str,
    data: Mapping[str, VariantData],
    adjusted: Mapping[str, cuped.Adjusted] | None,
    experiment: Experiment,
    alpha: float,
    method: Method,
    previous: ComparisonState,
) -> tuple[Comparison, ComparisonState]:
    if adjusted is None:
        t, c = _moments(data, variant, metric), _moments(data, experiment.control, metric)
        removed = None
    else:
        t, c = adjusted[variant].moments, adjusted[experiment.control].moments
        raw_t = _moments(data, variant, metric)
        raw_c = _moments(data, experiment.control, metric)
        raw = raw_t.variance / raw_t.n + raw_c.variance / raw_c.n if raw_t.n and raw_c.n else 0
        now = t.variance / t.n + c.variance / c.n if t.n and c.n else 0
        removed = 1 - now / raw if raw > 0 else 0.0
    if t.n < 2 or c.n < 2:
        unknown = Comparison(
            metric, variant, _UNKNOWN, _UNKNOWN, _UNKNOWN, None, 1.0, previous.min_p, 0.5,
            method is Method.SEQUENTIAL
            and previous.absolute is not None
            and sq.excludes_zero(previous.absolute),
        )  # fmt: skip
        return unknown, previous
    # CUPED-adjusted values are not 0/1 any more: they take the numeric path.
    binary = metric.kind is MetricKind.BINARY and adjusted is None
    ci_alpha = experiment.alpha
    diff = t.mean - c.mean
    if binary:
        xt, xc = round(t.total), round(c.total)
        treatment = st.proportion_interval(xt, t.n, ci_alpha)
        control = st.proportion_interval(xc, c.n, ci_alpha)
        p_value = float(st.two_proportion_z(xt, t.n, xc, c.n)[1])
        pooled = (xt + xc) / (t.n + c.n)
        unit = pooled * (1 - pooled)
        variance = unit * (1 / t.n + 1 / c.n)  # the null's, as always_valid_p_proportions
        higher = st.chance_to_beat_proportions(xt, t.n, xc, c.n)
    else:
        treatment = st.mean_interval(t, ci_alpha)
        control = st.mean_interval(c, ci_alpha)
        p_value = st.welch_t(t, c).p
        variance = t.variance / t.n + c.variance / c.n
        unit = (t.variance + c.variance) / 2
        higher = st.chance_to_beat_means(t, c)
    valid_now = float(st.always_valid_p(diff, variance, unit))
    state = ComparisonState(
        min_p=min(previous.min_p, valid_now),
        absolute=sq.intersect(
            previous.absolute, sq.confidence_sequence(diff, variance, unit, alpha)
        ),
        relative=_relative_sequence(t, c, alpha, previous.relative),
    )
    chance = higher if metric.direction is Direction.HIGHER else 1.0 - higher
    if method is Method.SEQUENTIAL:
        # The running interval excludes 0 exactly when the running-minimum p is <= alpha.
        significant = sq.excludes_zero(state.absolute) if state.absolute else False
        absolute = state.absolute or _UNKNOWN
        relative = state.relative
    else:
        significant = (
            p_value <= alpha
            if method is Method.FIXED_HORIZON
            else chance >= 1 - alpha / 2 or chance <= alpha / 2
        )
        absolute = st.difference_interval(t, c, ci_alpha, binary)
        relative = st.relative_interval(t, c, ci_alpha)
    comparison = Comparison(
        metric=metric,
        variant=variant,
        control=control,
        treatment=treatment,
        absolute=absolute,
        relative=relative,
        p_value=p_value,
        always_valid_p=state.min_p,
        chance_to_beat=chance,
        significant=significant,
        variance_removed=removed,
    )
    return comparison, state


def _relative_sequence(
    t: Moments, c: Moments, alpha: float, running: Interval | None
) -> Interval | None:
    current = sq.relative_confidence_sequence(
        t.mean, t.variance, t.n, c.mean, c.variance, c.n, alpha
    )
    if current is None:
        return None if running is None else Interval(math.nan, running.low, running.high)
    return sq.intersect(running, current)
