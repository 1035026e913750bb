"""The store's per-variant metric aggregates on SQLite and PostgreSQL (ADR 0025): the
experiment's span and each user's window, two-pass variance at a large mean, caps, ratio
co-moments, and stored values too large to aggregate left out instead of overflowing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from turnout.experiments.aggregates import joint_of, moments_of
from turnout.experiments.definition import Metric, MetricKind, Over
from turnout.experiments.ratio import RatioMoments
from turnout.experiments.store import ExperimentStore
from turnout.store import Store
from turnout.store.experiments import (
    ALL_TIME,
    ExposureRow,
    FeedbackRow,
    MetricQuery,
    MetricTotals,
    RatioTotals,
    Span,
)

from . import builders


@pytest.fixture
def experiments(store: Store) -> ExperimentStore:
    store.add_model(builders.model("m"))
    config = builders.config("c", "m")
    store.add_endpoint_config(config)
    store.add_endpoint(builders.endpoint("ep", config))
    return ExperimentStore(store)


def exposure(user: str, variant: str, at: float) -> ExposureRow:
    return ExposureRow("ep", user, variant, "c", None, True, at)


def event(user: str, metric: str, value: float, at: float) -> FeedbackRow:
    return FeedbackRow("ep", user, None, metric, value, at)


def numeric(
    experiments: ExperimentStore, query: MetricQuery, span: Span = ALL_TIME
) -> dict[str, MetricTotals]:
    found = experiments.metric_totals("ep", {"m": query}, span)["m"]
    assert all(isinstance(t, MetricTotals) for t in found.values())
    return {v: t for v, t in found.items() if isinstance(t, MetricTotals)}


def test_the_span_and_each_users_window_decide_what_counts(experiments: ExperimentStore) -> None:
    experiments.add_exposures(
        [exposure("early", "A", 50.0),  # first served before the start: not counted
         exposure("u1", "A", 100.0), exposure("u2", "A", 110.0), exposure("u3", "B", 120.0),
         exposure("late", "B", 300.0)]  # first served after the stop: not counted
    )  # fmt: skip
    experiments.add_feedback(
        [event("early", "rev", 5.0, 150.0),
         event("u1", "rev", 7.0, 99.0),  # before u1's exposure: not counted
         event("u1", "rev", 10.0, 101.0),
         event("u1", "rev", 20.0, 190.0),  # 90 s after exposure: outside a 60 s window
         event("u2", "rev", 4.0, 111.0),
         event("u3", "rev", 3.0, 121.0),
         event("u3", "rev", 100.0, 250.0),  # after the stop
         event("late", "rev", 9.0, 301.0)]
    )  # fmt: skip
    span = Span(100.0, 200.0)
    totals = numeric(experiments, MetricQuery(("rev",), per_user="sum"), span)
    assert (totals["A"].users, totals["A"].with_data, totals["A"].mean) == (2, 2, (30 + 4) / 2)
    assert (totals["B"].users, totals["B"].with_data, totals["B"].mean) == (1, 1, 3.0)
    windowed = numeric(experiments, MetricQuery(("rev",), per_user="sum", window=60.0), span)
    assert windowed["A"].mean == (10 + 4) / 2
    everything = numeric(experiments, MetricQuery(("rev",), per_user="sum"))
    assert (everything["A"].users, everything["B"].users) == (3, 2)
    assert everything["A"].mean == (5 + 30 + 4) / 3  # still none before the exposure


def test_variance_is_computed_in_two_passes_and_keeps_its_precision(
    experiments: ExperimentStore,
) -> None:
    """1e9 + N(0, 1) per user: raw sums of squares gave a variance of about 3.6e4."""
    values = 1e9 + np.random.default_rng(5).standard_normal(4000)
    experiments.add_exposures([exposure(f"u{i}", "AB"[i % 2], 1.0) for i in range(4000)])
    experiments.add_feedback([event(f"u{i}", "m", float(v), 2.0) for i, v in enumerate(values)])
    totals = numeric(experiments, MetricQuery(("m",)))
    for k, variant in enumerate("AB"):
        mine = values[k::2]
        m = moments_of(Metric("m", MetricKind.NUMERIC), totals[variant])
        assert m.n == mine.size
        assert math.isclose(m.mean, float(mine.mean()), rel_tol=1e-14)
        assert math.isclose(m.variance, float(np.var(mine, ddof=1)), rel_tol=1e-6)


def test_numeric_metrics_average_over_exposed_users_unless_asked_otherwise(
    experiments: ExperimentStore,
) -> None:
    experiments.add_exposures([exposure(f"u{i}", "A", 1.0) for i in range(10)])
    experiments.add_feedback([event("u0", "m", 30.0, 2.0), event("u1", "m", 10.0, 2.0),
                              event("u1", "m", 20.0, 3.0)])  # fmt: skip
    totals = numeric(experiments, MetricQuery(("m",)))["A"]
    exposed = moments_of(Metric("m", MetricKind.NUMERIC), totals)
    with_events = moments_of(Metric("m", MetricKind.NUMERIC, over=Over.USERS_WITH_EVENTS), totals)
    per_user = [30.0, 15.0] + [0.0] * 8
    assert (exposed.n, exposed.mean) == (10, 4.5)
    assert math.isclose(exposed.variance, float(np.var(per_user, ddof=1)))
    assert (with_events.n, with_events.mean, with_events.variance) == (2, 22.5, 112.5)


def test_caps_winsorize_per_user_values_at_a_value_or_a_percentile(
    experiments: ExperimentStore,
) -> None:
    experiments.add_exposures([exposure(f"u{i}", "AB"[i % 2], 1.0) for i in range(200)])
    experiments.add_feedback([event(f"u{i}", "m", float(i + 1), 2.0) for i in range(100)])
    fixed = numeric(experiments, MetricQuery(("m",), cap=50.0))
    per_user = np.minimum(np.arange(1, 101), 50.0)
    assert fixed["A"].mean == float(per_user[0::2].mean()) and fixed["A"].cap == 50.0
    assert math.isclose(fixed["B"].m2, float(((per_user[1::2] - per_user[1::2].mean()) ** 2).sum()))
    p90 = numeric(experiments, MetricQuery(("m",), cap_percentile=0.9))
    assert p90["A"].cap == p90["B"].cap == 90.0  # nearest rank over users with an event
    assert p90["B"].mean == float(np.minimum(np.arange(1, 101), 90.0)[1::2].mean())
    nobody = numeric(experiments, MetricQuery(("none",), cap_percentile=0.9))
    assert nobody["A"] == MetricTotals(100, 0, 0, 0.0, 0.0, None)


def test_ratio_metrics_get_per_user_sums_and_their_co_moment(experiments: ExperimentStore) -> None:
    rng = np.random.default_rng(8)
    users = 300
    experiments.add_exposures([exposure(f"u{i}", "AB"[i % 2], 1.0) for i in range(users)])
    xs, ys = np.zeros(users), np.zeros(users)
    rows = []
    for i in range(users):
        for _ in range(rng.poisson(0.7)):
            basket = float(rng.lognormal(3, 1))
            rows += [event(f"u{i}", "revenue", basket, 2.0), event(f"u{i}", "orders", 1.0, 2.0)]
            xs[i] += basket
            ys[i] += 1
    experiments.add_feedback(rows)
    found = experiments.metric_totals("ep", {"aov": MetricQuery(("revenue", "orders"))})["aov"]
    ratio = Metric("aov", MetricKind.RATIO, numerator="revenue", denominator="orders")
    for k, variant in enumerate("AB"):
        totals = found[variant]
        assert isinstance(totals, RatioTotals)
        want = RatioMoments.of(xs[k::2].tolist(), ys[k::2].tolist())
        got = moments_of(ratio, totals)
        assert got.n == users // 2
        assert math.isclose(got.mean, want.ratio, rel_tol=1e-12)
        assert math.isclose(got.variance / got.n, want.ratio_variance, rel_tol=1e-9)


def test_stored_values_too_large_to_aggregate_are_left_out_and_counted(
    experiments: ExperimentStore,
) -> None:
    """A 1e200 stored before the API refused it would overflow PostgreSQL's squares."""
    experiments.add_exposures([exposure("u1", "A", 1.0), exposure("u2", "A", 1.0)])
    experiments.add_feedback([event("u1", "m", 1e200, 2.0), event("u2", "m", 3.0, 2.0),
                              event("u2", "m", -1e200, 2.0)])  # fmt: skip
    totals = numeric(experiments, MetricQuery(("m",), per_user="sum"))["A"]
    assert (totals.with_data, totals.mean, totals.m2) == (1, 3.0, 0.0)
    assert experiments.feedback_counts("ep") == {"m": (3, 0, 2)}


def test_joint_moments_of_a_metric_and_its_covariate(experiments: ExperimentStore) -> None:
    """CUPED's inputs: per variant, Y (the metric as counted) and X (the mean of the
    covariate's events, any time) over the exposed users, silent ones as zeros for both."""
    rng = np.random.default_rng(8)
    ys, xs = rng.normal(50, 5, 40), rng.normal(1e6, 3, 40)
    experiments.add_exposures([exposure(f"u{i}", "A", 10.0) for i in range(50)])
    experiments.add_feedback(
        [FeedbackRow("ep", f"u{i}", None, "spend", float(ys[i]), 20.0) for i in range(30)]
        + [FeedbackRow("ep", f"u{i}", None, "spend", 1e3, 5.0) for i in range(30)]  # too early
        + [FeedbackRow("ep", f"u{i}", None, "before", float(xs[i]), 1.0) for i in range(10, 40)]
        + [FeedbackRow("ep", f"u{i}", None, "before", float(xs[i]) + 2, 1.0) for i in range(10, 40)]
    )  # fmt: skip
    query = MetricQuery(("spend",))
    found = experiments.joint_totals("ep", {"spend": (query, "before", False, None)}, Span(10.0))
    joint = joint_of(found["spend"]["A"])
    y = np.array([ys[i] if i < 30 else 0.0 for i in range(50)])
    x = np.array([xs[i] + 1 if 10 <= i < 40 else 0.0 for i in range(50)])  # mean of 2 events
    assert joint.n == 50
    assert joint.mean_y == pytest.approx(y.mean(), rel=1e-9)
    assert joint.mean_x == pytest.approx(x.mean(), rel=1e-9)
    assert joint.m2_y == pytest.approx(((y - y.mean()) ** 2).sum(), rel=1e-9)
    assert joint.m2_x == pytest.approx(((x - x.mean()) ** 2).sum(), rel=1e-9)
    assert joint.c_xy == pytest.approx(((y - y.mean()) * (x - x.mean())).sum(), rel=1e-9)
