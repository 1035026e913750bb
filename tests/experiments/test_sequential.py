"""Confidence sequences, the running state across looks, one read at the planned sample."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from turnout.experiments import sequential as sq
from turnout.experiments import statistics as s
from turnout.experiments.analysis import VariantData, analyse
from turnout.experiments.decision import Verdict, decide
from turnout.experiments.definition import Experiment, Method, Metric
from turnout.experiments.sequential import SequentialState
from turnout.experiments.statistics import Interval, Moments

CONVERSION = Metric("conversion")
EXPERIMENT = Experiment("e", ("A", "B"), "A", CONVERSION, minimum_sample=1000).validated()


def _not_a_tie(p: float, alpha: float) -> bool:
    """Whether p and alpha differ by more than the last bits of a float."""
    return p == 0 or abs(math.log(p) - math.log(alpha)) > 1e-9


positive = st.floats(1e-8, 1e6, allow_nan=False, allow_infinity=False)


@given(
    st.floats(-1e3, 1e3, allow_nan=False),
    positive,
    positive,
    st.sampled_from([0.001, 0.01, 0.025, 0.05, 0.1]),
)
def test_the_confidence_sequence_excludes_0_exactly_when_the_always_valid_p_is_below_alpha(
    d: float, v: float, unit: float, alpha: float
) -> None:
    p = float(s.always_valid_p(d, v, unit))
    assume(_not_a_tie(p, alpha))
    cs = sq.confidence_sequence(d, v, unit, alpha)
    assert cs.low <= d <= cs.high
    assert sq.excludes_zero(cs) == (p <= alpha)


@given(st.floats(-10, 10, allow_nan=False), st.floats(1e-4, 10), st.floats(1e-4, 10))
def test_the_confidence_sequence_bounds_are_where_the_p_value_is_alpha(
    d: float, v: float, unit: float
) -> None:
    cs = sq.confidence_sequence(d, v, unit, 0.05)
    for bound in (cs.low, cs.high):
        # Testing "the difference is bound" is testing 0 on d - bound.
        assert float(s.always_valid_p(d - bound, v, unit)) == pytest.approx(0.05, rel=1e-6)


def test_no_variance_gives_an_unbounded_interval_and_no_significance() -> None:
    assert sq.confidence_sequence(0.5, 0.0, 1.0, 0.05) == Interval(0.5, -math.inf, math.inf)
    assert float(s.always_valid_p(0.5, 0.0, 1.0)) == 1.0


def test_the_relative_sequence_is_the_log_ratio_interval_taken_back() -> None:
    rel = sq.relative_confidence_sequence(0.12, 0.1056, 20_000, 0.10, 0.09, 20_000, 0.05)
    assert rel is not None
    assert rel.value == pytest.approx(0.2)
    assert -1 < rel.low < 0.2 < rel.high
    # Asymmetric, as a ratio's interval should be.
    assert rel.high - rel.value > rel.value - rel.low
    assert sq.relative_confidence_sequence(0.0, 0.0, 10, 0.1, 0.09, 10, 0.05) is None


def test_disjoint_intervals_keep_the_one_that_excludes_0() -> None:
    running = Interval(0.0, -1.0, 1.0)
    assert sq.intersect(running, Interval(3.0, 2.0, 4.0)) == Interval(3.0, 2.0, 4.0)
    assert sq.intersect(Interval(3.0, 2.0, 4.0), Interval(0.0, -1.0, 1.0)) == Interval(
        0.0, 2.0, 4.0
    )
    assert sq.intersect(running, Interval(0.5, 0.0, 2.0)) == Interval(0.5, 0.0, 1.0)


def _binary(users: int, conversions: int) -> VariantData:
    return VariantData(users, {"conversion": Moments(users, conversions, conversions)})


looks = st.lists(
    st.tuples(st.integers(20, 400), st.floats(0.02, 0.5), st.floats(0.02, 0.5)),
    min_size=1,
    max_size=12,
)


@given(looks, st.integers(0, 2**32 - 1), st.sampled_from([2, 3]))
def test_across_looks_the_interval_excludes_0_exactly_when_the_result_is_significant(
    steps: list[tuple[int, float, float]], seed: int, arms: int
) -> None:
    """The property ADR 0024 promises: with the state carried over, the reported interval
    (running intersection) excludes 0 iff the comparison is significant iff the running
    minimum of the always-valid p-value is <= the (Bonferroni-split) alpha; a significant
    result never reverts; the p-value never rises."""
    variants = ("A", "B", "C")[:arms]
    experiment = Experiment("e", variants, "A", CONVERSION, minimum_sample=2).validated()
    alpha = experiment.alpha / (arms - 1)
    rng = np.random.default_rng(seed)
    users = dict.fromkeys(variants, 0)
    conversions = dict.fromkeys(variants, 0)
    state: SequentialState | None = None
    seen: dict[str, tuple[float, bool]] = {}
    for n, rate_a, rate_other in steps:
        for v in variants:
            users[v] += n
            conversions[v] += int(rng.binomial(n, rate_a if v == "A" else rate_other))
        data = {v: _binary(users[v], conversions[v]) for v in variants}
        report = analyse(experiment, data, state)
        state = SequentialState.from_json(json.loads(json.dumps(report.state.to_json())))
        for c in report.primary:
            assume(_not_a_tie(c.always_valid_p, alpha))
            assert sq.excludes_zero(c.absolute) == c.significant == (c.always_valid_p <= alpha)
            last_p, was_significant = seen.get(c.variant, (1.0, False))
            assert c.always_valid_p <= last_p
            assert c.significant or not was_significant
            seen[c.variant] = (c.always_valid_p, c.significant)


def test_without_a_state_the_report_reads_the_current_look_only() -> None:
    data = {"A": _binary(20_000, 2000), "B": _binary(20_000, 2400)}
    report = analyse(EXPERIMENT, data)
    (c,) = report.primary
    assert c.always_valid_p == pytest.approx(
        float(s.always_valid_p_proportions(2400, 20_000, 2000, 20_000))
    )
    assert report.state.looks == 1
    assert report.expected_shares == {"A": 0.5, "B": 0.5}
    assert "Dirichlet" in report.srm_test


def test_a_detection_survives_a_later_look_where_the_current_p_value_rose() -> None:
    first = analyse(EXPERIMENT, {"A": _binary(20_000, 2000), "B": _binary(20_000, 2400)})
    assert first.primary[0].significant
    # More data, now a smaller difference: on its own this look finds nothing.
    later_data = {"A": _binary(40_000, 4000), "B": _binary(40_000, 4150)}
    assert not analyse(EXPERIMENT, later_data).primary[0].significant
    later = analyse(EXPERIMENT, later_data, first.state)
    (c,) = later.primary
    assert c.significant
    assert c.always_valid_p == first.primary[0].always_valid_p
    assert c.absolute.value == pytest.approx(150 / 40_000)  # the estimate is the current one
    assert decide(later).verdict is Verdict.WINNER


def test_the_state_round_trips_through_json_with_infinite_bounds() -> None:
    state = SequentialState(
        comparisons={
            "conversion/B": sq.ComparisonState(
                0.2, Interval(math.nan, -math.inf, 0.5), Interval(math.nan, -0.5, math.inf)
            )
        },
        srm_min_p=0.3,
        looks=4,
        planned_read=sq.PlannedRead({"A": 1000, "B": 1001}, {"B": "none"}),
    )
    document = json.loads(json.dumps(state.to_json(), allow_nan=False))
    assert document["comparisons"]["conversion/B"]["absolute"] == [None, 0.5]
    again = SequentialState.from_json(document)
    assert again.to_json() == state.to_json()
    assert SequentialState.from_json(None) == SequentialState()
    assert SequentialState.from_json({"version": 999}) == SequentialState()


def test_the_sample_ratio_p_value_is_a_running_minimum() -> None:
    skewed = analyse(EXPERIMENT, {"A": _binary(49_000, 4900), "B": _binary(51_000, 5100)})
    assert skewed.sample_ratio_mismatch
    balanced = {"A": _binary(200_000, 20_000), "B": _binary(200_100, 20_010)}
    assert not analyse(EXPERIMENT, balanced).sample_ratio_mismatch
    assert analyse(EXPERIMENT, balanced, skewed.state).sample_ratio_mismatch


@pytest.mark.parametrize("method", [Method.FIXED_HORIZON, Method.BAYESIAN])
def test_a_one_read_method_decides_only_at_its_planned_sample_and_keeps_that_read(
    method: Method,
) -> None:
    experiment = dataclasses.replace(EXPERIMENT, method=method, minimum_sample=5000)
    # A huge difference before the plan: still "keep running".
    early = analyse(experiment, {"A": _binary(4000, 400), "B": _binary(4000, 600)})
    assert not early.primary[0].significant
    decision = decide(early)
    assert decision.verdict is Verdict.KEEP_RUNNING
    assert f"({method.value} decides once, at this planned sample)" in decision.message
    assert early.state.planned_read is None
    # At the plan nothing is significant: "no difference", and it stays so after.
    at_plan = analyse(experiment, {"A": _binary(5000, 500), "B": _binary(5010, 505)}, early.state)
    assert at_plan.state.planned_read is not None
    assert decide(at_plan).verdict is Verdict.NO_DIFFERENCE
    assert "read once at the planned sample: A 5,000, B 5,010 users" in decide(at_plan).message
    after = analyse(experiment, {"A": _binary(9000, 900), "B": _binary(9000, 1100)}, at_plan.state)
    assert decide(after).verdict is Verdict.NO_DIFFERENCE
    assert after.primary[0].p_value < 1e-5  # the current numbers are still shown
