"""From metric definitions to store queries, and from the store's totals to the analysis'
per-user `Moments` (ADR 0025). Pure: no I/O.

The store aggregates over users *with* events (that is all SQL sees); users exposed but
silent are added here as zeros, exactly, by the pairwise update of the centred sums.
"""

from __future__ import annotations

from collections.abc import Mapping

from turnout.experiments.analysis import VariantData
from turnout.experiments.cuped import JointMoments
from turnout.experiments.definition import Experiment, Metric, MetricKind, Over
from turnout.experiments.ratio import RatioMoments
from turnout.experiments.statistics import Moments
from turnout.store.experiments import JointTotals, MetricQuery, MetricTotals, RatioTotals

Totals = MetricTotals | RatioTotals


def query_of(metric: Metric) -> MetricQuery:
    """What the store must compute for `metric`."""
    cap = metric.cap
    return MetricQuery(
        events=metric.events,
        per_user=metric.per_user.value,
        window=metric.window,
        cap=cap.value if cap else None,
        cap_percentile=cap.percentile if cap else None,
    )


def with_zeros(m: Moments, zeros: int) -> Moments:
    """`m` plus `zeros` observations equal to 0 (Chan, Golub & LeVeque's pairwise update)."""
    if zeros <= 0:
        return m
    n = m.n + zeros
    mean = m.mean if m.n else 0.0
    return Moments.centred(n, mean * m.n / n, m.m2 + m.n * zeros / n * mean * mean)


def moments_of(metric: Metric, totals: Totals) -> Moments:
    """One variant's per-user moments of `metric`, over the users the definition says."""
    if isinstance(totals, RatioTotals):
        pairs = RatioMoments(
            totals.with_data, totals.mean_x, totals.mean_y, totals.m2_x, totals.m2_y, totals.c_xy
        )
        return pairs.with_zeros(totals.users - totals.with_data).as_moments()
    if metric.kind is MetricKind.BINARY:
        return Moments(totals.users, float(totals.converted), float(totals.converted))
    with_data = Moments.centred(totals.with_data, totals.mean, totals.m2)
    if metric.over is Over.USERS_WITH_EVENTS:
        return with_data
    return with_zeros(with_data, totals.users - totals.with_data)


def joint_of(totals: JointTotals) -> JointMoments:
    """One variant's joint moments of (Y, X) over all its exposed users: those without the
    metric or its covariate are zeros for both (the same pairwise update as `with_zeros`)."""
    n1, zeros = totals.with_data, totals.users - totals.with_data
    n = n1 + zeros
    if n1 == 0 or zeros <= 0:
        return JointMoments(
            n1 if zeros <= 0 else n, totals.mean_y if n1 else 0.0, totals.mean_x if n1 else 0.0,
            totals.m2_y, totals.m2_x, totals.c_xy,
        )  # fmt: skip
    weight = n1 * zeros / n
    my, mx = totals.mean_y, totals.mean_x
    return JointMoments(
        n, my * n1 / n, mx * n1 / n,
        totals.m2_y + weight * my * my, totals.m2_x + weight * mx * mx,
        totals.c_xy + weight * my * mx,
    )  # fmt: skip


def variant_data(
    experiment: Experiment,
    totals: Mapping[str, Mapping[str, Totals]],
    joint: Mapping[str, Mapping[str, JointTotals]] | None = None,
) -> dict[str, VariantData]:
    """The store's per-variant totals (per metric name) as the analysis' input; `joint`
    holds the (metric, covariate) moments of the metrics adjusted by CUPED."""
    data = {}
    for variant in experiment.variants:
        users = 0
        moments = {}
        covariates = {}
        for metric in (experiment.primary, *experiment.guardrails):
            t = totals.get(metric.name, {}).get(variant)
            if t is None:
                continue
            users = t.users
            moments[metric.name] = moments_of(metric, t)
            j = (joint or {}).get(metric.name, {}).get(variant)
            if j is not None:
                covariates[metric.name] = joint_of(j)
        data[variant] = VariantData(users, moments, covariates)
    return data


def caps(totals: Mapping[str, Mapping[str, Totals]]) -> dict[str, float | None]:
    """The cap each numeric metric applied (a percentile's value as computed)."""
    found: dict[str, float | None] = {}
    for name, per_variant in totals.items():
        for t in per_variant.values():
            if isinstance(t, MetricTotals):
                found[name] = t.cap
    return found
