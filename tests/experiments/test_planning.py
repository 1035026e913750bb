"""Planning against statsmodels (fixed horizon) and a binomial simulation (sequential)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize

from turnout.experiments import planning
from turnout.experiments import statistics as s
from turnout.experiments.planning import Question


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.01, 0.9),
    st.floats(0.005, 0.09),
    st.sampled_from([0.01, 0.05, 0.1]),
    st.sampled_from([0.8, 0.9, 0.95]),
    st.integers(2, 5),
)
def test_fixed_horizon_users_match_statsmodels_for_a_conversion_rate(
    baseline: float, mde: float, alpha: float, power: float, variants: int
) -> None:
    q = Question(baseline, mde, alpha=alpha, power=power, variants=variants).validated()
    h = proportion_effectsize(baseline + mde, baseline)
    assert planning.effect_size(q) == pytest.approx(h, rel=1e-12)
    reference = NormalIndPower().solve_power(h, alpha=alpha / (variants - 1), power=power)
    ours = planning.fixed_horizon_users(h, q.comparison_alpha, power)
    assert ours == pytest.approx(reference, rel=1e-6)


def test_fixed_horizon_users_match_statsmodels_for_a_numeric_metric() -> None:
    q = Question(50.0, 1.0, sd=20.0)
    reference = zt_ind_solve_power(1.0 / 20.0, alpha=0.05, power=0.8)
    assert planning.fixed_horizon_users(planning.effect_size(q), 0.05, 0.8) == pytest.approx(
        reference, rel=1e-6
    )
    assert planning.plan(q).fixed_users == math.ceil(reference)


def test_a_relative_effect_is_a_share_of_the_baseline() -> None:
    assert Question(0.10, 0.1, relative=True).effect == pytest.approx(0.01)
    relative = planning.plan(Question(0.10, 0.1, relative=True))
    absolute = planning.plan(Question(0.10, 0.01))
    assert relative.fixed_users == absolute.fixed_users


def test_the_sequential_plan_is_the_power_of_the_msprt_in_a_binomial_simulation() -> None:
    """At the planned users the real test (binomial data, pooled variance, a look every 1%
    of the fixed sample) has stopped in about `power` of the runs: 79.95% with this seed."""
    q = Question(0.10, 0.01, traffic=1000)
    p = planning.plan(q)
    assert p.sequential_users is not None and p.sequential_median_users is not None
    assert p.fixed_users < p.sequential_users < 2 * p.fixed_users  # 14,745 and 25,308
    assert p.days(p.fixed_users) == pytest.approx(2 * p.fixed_users / 1000)
    step = math.ceil(p.fixed_users / 100)
    looks = math.ceil(p.sequential_users / step)
    rng = np.random.default_rng(1)
    x_t = np.cumsum(rng.binomial(step, 0.11, (2000, looks)), axis=1)
    x_c = np.cumsum(rng.binomial(step, 0.10, (2000, looks)), axis=1)
    n = step * np.arange(1, looks + 1)
    detected = (s.always_valid_p_proportions(x_t, n, x_c, n) <= 0.05).any(axis=1).mean()
    assert detected == pytest.approx(0.8, abs=0.03)


def test_the_same_question_gets_the_same_answer() -> None:
    q = Question(50.0, 1.0, sd=20.0, variants=3)
    assert planning.plan(q) == planning.plan(q)


@pytest.mark.parametrize(
    ("question", "words"),
    [
        (Question(0.95, 0.1), "must lie in (0, 1)"),
        (Question(0.1, -0.01), "positive number"),
        (Question(0.1, 0.01, power=0.3), "power in [0.5, 1)"),
        (Question(0.1, 0.01, variants=1), "variants must be 2 to 10"),
        (Question(5.0, 1.0, sd=0.0), "standard deviation"),
        (Question(0.1, 0.01, traffic=0.0), "traffic"),
    ],
)
def test_impossible_questions_are_refused_in_one_line(question: Question, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):  # fmt: skip
        planning.plan(question)
