"""Seeded simulations: peeking safety, sample-ratio checks and power (ADR 0011).

Each simulation runs thousands of experiments at once with numpy; the seeds fix the
outcomes, and the bounds are wide enough that another seed would pass as well.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from turnout.experiments import statistics as s
from turnout.experiments.analysis import VariantData, analyse
from turnout.experiments.decision import Verdict, decide
from turnout.experiments.definition import Experiment, Metric
from turnout.experiments.statistics import Moments

ALPHA = 0.05
RUNS = 2000
PER_ARM_STEP = 50  # a look after every 100 users, 50 in each arm
LOOKS = 200  # up to 10,000 users per arm


def peeks_at_binary_aa(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(naive z p-values, always-valid p-values), one row per A/A experiment, one column a look."""
    x_t = np.cumsum(rng.binomial(PER_ARM_STEP, 0.10, (RUNS, LOOKS)), axis=1)
    x_c = np.cumsum(rng.binomial(PER_ARM_STEP, 0.10, (RUNS, LOOKS)), axis=1)
    n = PER_ARM_STEP * np.arange(1, LOOKS + 1)
    return s.two_proportion_z(x_t, n, x_c, n)[1], s.always_valid_p_proportions(x_t, n, x_c, n)


def peeks_at_numeric_aa(rng: np.random.Generator, runs: int, looks: int) -> tuple[float, float]:
    """Share of A/A experiments on a skewed metric that ever reject: (naive Welch, sequential)."""
    total = np.zeros((2, runs))
    total_sq = np.zeros((2, runs))
    naive = np.zeros(runs, dtype=bool)
    sequential = np.zeros(runs, dtype=bool)
    for look in range(1, looks + 1):
        values = rng.lognormal(3.0, 1.0, (2, runs, PER_ARM_STEP))  # latency-like, long tail
        total += values.sum(axis=2)
        total_sq += (values * values).sum(axis=2)
        n = PER_ARM_STEP * look
        mean = total / n
        var = (total_sq - total * mean) / (n - 1)
        v = var[0] / n + var[1] / n
        df = v * v / ((var[0] / n) ** 2 / (n - 1) + (var[1] / n) ** 2 / (n - 1))
        naive |= 2 * stats.t.sf(np.abs(mean[0] - mean[1]) / np.sqrt(v), df) <= ALPHA
        sequential |= s.always_valid_p(mean[0] - mean[1], v, (var[0] + var[1]) / 2) <= ALPHA
    return float(naive.mean()), float(sequential.mean())


def test_peeking_every_100_users_inflates_naive_z_tests_but_not_the_sequential_test() -> None:
    naive, sequential = peeks_at_binary_aa(np.random.default_rng(20261125))
    naive_rate = float((naive <= ALPHA).any(axis=1).mean())
    sequential_rate = float((sequential <= ALPHA).any(axis=1).mean())
    assert sequential_rate <= ALPHA + 0.015
    assert naive_rate > ALPHA + 0.015  # in fact several times alpha
    # A single look at the end is an honest fixed-horizon test.
    assert float((naive[:, -1] <= ALPHA).mean()) == pytest.approx(ALPHA, abs=0.015)


def test_peeking_at_a_skewed_numeric_metric_keeps_the_sequential_test_honest() -> None:
    naive_rate, sequential_rate = peeks_at_numeric_aa(np.random.default_rng(7), 1000, 100)
    assert sequential_rate <= ALPHA + 0.015
    assert naive_rate > ALPHA + 0.015


def test_sequential_test_finds_a_real_lift_while_peeking() -> None:
    # 10% vs 12% conversion, a look every 1,000 users per arm up to 20,000.
    rng = np.random.default_rng(3)
    runs, step, looks = 500, 1000, 20
    x_t = np.cumsum(rng.binomial(step, 0.12, (runs, looks)), axis=1)
    x_c = np.cumsum(rng.binomial(step, 0.10, (runs, looks)), axis=1)
    n = step * np.arange(1, looks + 1)
    detected = (s.always_valid_p_proportions(x_t, n, x_c, n) <= ALPHA).any(axis=1)
    assert detected.mean() >= 0.95


def test_sample_ratio_check_flags_51_49_at_100k_users_but_not_a_true_50_50() -> None:
    assert s.sample_ratio_p([51_000, 49_000], [0.5, 0.5]) < 0.001
    assert s.sample_ratio_p([51_000, 49_000], [0.5, 0.5]) == pytest.approx(
        stats.chisquare([51_000, 49_000]).pvalue
    )
    rng = np.random.default_rng(99)
    a = int(rng.binomial(100_000, 0.5))
    assert s.sample_ratio_p([a, 100_000 - a], [0.5, 0.5]) >= 0.001
    # Across many true 50/50 splits the alarm rings about once in a thousand.
    splits = rng.binomial(100_000, 0.5, 20_000)
    false_alarms = sum(s.sample_ratio_p([int(k), 100_000 - int(k)], [1, 1]) < 0.001 for k in splits)
    assert false_alarms / len(splits) == pytest.approx(0.001, abs=0.0015)


def _conversion_report_data(
    rng: np.random.Generator, n: int, rates: dict[str, float]
) -> dict[str, VariantData]:
    data = {}
    for name, rate in rates.items():
        x = int(rng.binomial(n, rate))
        data[name] = VariantData(n, {"conversion": Moments(n, x, x)})
    return data


def test_a_10_vs_12_percent_conversion_at_20k_users_per_arm_names_the_winner() -> None:
    experiment = Experiment("checkout", ("A", "B"), "A", Metric("conversion")).validated()
    rng = np.random.default_rng(2026)
    data = _conversion_report_data(rng, 20_000, {"A": 0.10, "B": 0.12})
    decision = decide(analyse(experiment, data))
    assert (decision.verdict, decision.variant) == (Verdict.WINNER, "B")
    assert decision.message.startswith("B wins on conversion: +0.0")
    wins = sum(
        decide(analyse(experiment, _conversion_report_data(rng, 20_000, {"A": 0.1, "B": 0.12})))
        .variant == "B"
        for _ in range(50)
    )  # fmt: skip
    assert wins >= 49  # power is about 1 at this size


def test_an_aa_experiment_at_20k_users_per_arm_does_not_name_a_winner() -> None:
    experiment = Experiment("checkout", ("A", "B"), "A", Metric("conversion")).validated()
    rng = np.random.default_rng(2027)
    data = _conversion_report_data(rng, 20_000, {"A": 0.10, "B": 0.10})
    assert decide(analyse(experiment, data)).verdict is Verdict.KEEP_RUNNING
