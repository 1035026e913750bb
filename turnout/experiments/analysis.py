"""From per-variant aggregates to an experiment report: every treatment against the control."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from turnout.experiments import statistics as st
from turnout.experiments.definition import Direction, Experiment, Method, Metric, MetricKind
from turnout.experiments.statistics import Interval, Moments

# A sample-ratio mismatch is alarming only when this unlikely: the check runs on every look.
SRM_ALPHA = 0.001
_EMPTY = Moments(0, 0.0, 0.0)
_UNKNOWN = Interval(math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class VariantData:
    """What the store keeps per variant: users exposed and running sums per metric."""

    users: int
    metrics: Mapping[str, Moments]


@dataclass(frozen=True)
class Comparison:
    """One metric of one treatment against the control.

    `chance_to_beat` is the posterior chance that the treatment is better in the metric's
    direction; `significant` applies the experiment's method at its (adjusted) alpha.
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

    @property
    def better(self) -> bool:
        """Whether the treatment's estimate lies in the metric's good direction."""
        diff = self.absolute.value
        return diff > 0 if self.metric.direction is Direction.HIGHER else diff < 0


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    users: Mapping[str, int]
    sample_ratio_p: float
    primary: tuple[Comparison, ...]
    guardrails: tuple[Comparison, ...]

    @property
    def sample_ratio_mismatch(self) -> bool:
        return self.sample_ratio_p < SRM_ALPHA

    @property
    def short_of_minimum(self) -> dict[str, int]:
        """Variants below the minimum sample, with their users."""
        need = self.experiment.minimum_sample
        return {v: n for v, n in self.users.items() if n < need}


def analyse(experiment: Experiment, data: Mapping[str, VariantData]) -> Report:
    """Compare every treatment with the control on the primary metric and the guardrails.

    The primary metric's alpha is split among the treatments (Bonferroni), so adding arms
    does not add false winners; guardrails use the full alpha, erring towards alarms.
    """
    users = {v: data[v].users if v in data else 0 for v in experiment.variants}
    shares = experiment.expected_shares()
    srm_p = st.sample_ratio_p(
        [users[v] for v in experiment.variants], [shares[v] for v in experiment.variants]
    )
    primary_alpha = experiment.alpha / len(experiment.treatments)

    def compare(metric: Metric, alpha: float) -> tuple[Comparison, ...]:
        control = _moments(data, experiment.control, metric)
        return tuple(
            _compare(metric, v, _moments(data, v, metric), control, experiment, alpha)
            for v in experiment.treatments
        )

    return Report(
        experiment=experiment,
        users=users,
        sample_ratio_p=srm_p,
        primary=compare(experiment.primary, primary_alpha),
        guardrails=tuple(c for g in experiment.guardrails for c in compare(g, experiment.alpha)),
    )


def _moments(data: Mapping[str, VariantData], variant: str, metric: Metric) -> Moments:
    entry = data.get(variant)
    return entry.metrics.get(metric.name, _EMPTY) if entry else _EMPTY


def _compare(
    metric: Metric, variant: str, t: Moments, c: Moments, experiment: Experiment, alpha: float
) -> Comparison:
    if t.n < 2 or c.n < 2:
        return Comparison(metric, variant, _UNKNOWN, _UNKNOWN, _UNKNOWN, None, 1.0, 1.0, 0.5, False)
    binary = metric.kind is MetricKind.BINARY
    ci_alpha = experiment.alpha
    if binary:
        xt, xc = round(t.total), round(c.total)
        treatment = st.proportion_interval(xt, t.n, ci_alpha)
        control = st.proportion_interval(xc, c.n, ci_alpha)
        p_value = float(st.two_proportion_z(xt, t.n, xc, c.n)[1])
        valid_p = float(st.always_valid_p_proportions(xt, t.n, xc, c.n))
        higher = st.chance_to_beat_proportions(xt, t.n, xc, c.n)
    else:
        treatment = st.mean_interval(t, ci_alpha)
        control = st.mean_interval(c, ci_alpha)
        p_value = st.welch_t(t, c).p
        valid_p = st.always_valid_p_means(t, c)
        higher = st.chance_to_beat_means(t, c)
    chance = higher if metric.direction is Direction.HIGHER else 1.0 - higher
    if experiment.method is Method.SEQUENTIAL:
        significant = valid_p <= alpha
    elif experiment.method is Method.FIXED_HORIZON:
        significant = p_value <= alpha
    else:  # Bayesian: convincingly better or convincingly worse
        significant = chance >= 1 - alpha / 2 or chance <= alpha / 2
    return Comparison(
        metric=metric,
        variant=variant,
        control=control,
        treatment=treatment,
        absolute=st.difference_interval(t, c, ci_alpha, binary),
        relative=st.relative_interval(t, c, ci_alpha),
        p_value=p_value,
        always_valid_p=valid_p,
        chance_to_beat=chance,
        significant=significant,
    )
