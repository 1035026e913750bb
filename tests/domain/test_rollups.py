import numpy as np
import pytest

from turnout.domain.rollups import PERIOD, Metric, Rollup, VariantKey, align, statistic
from turnout.metrics.counters import VariantMetrics

KEY = VariantKey("digits", "digits-ab", "A")


def simulated(seed: int, periods: int = 3, instances: int = 2) -> tuple[list[Rollup], dict]:
    """Rollups of seeded random traffic, and the exact per-request truth to compare with."""
    rng = np.random.default_rng(seed)
    metrics = VariantMetrics(KEY)
    truth: dict[str, list] = {"status": [], "model_us": [], "overhead_us": []}
    rollups = []
    for period in range(periods):
        for _ in range(int(rng.integers(50, 400))):
            # 504: the model never answered (a timeout), so it has no model latency
            status = int(rng.choice([200, 400, 500, 504], p=[0.85, 0.05, 0.05, 0.05]))
            model_us = float(rng.lognormal(6, 0.8)) if status != 504 else None
            overhead_us = float(rng.lognormal(4, 0.3))
            metrics.observe(status, status != 200, model_us, overhead_us)
            truth["status"].append(status)
            truth["model_us"].append(model_us)
            truth["overhead_us"].append(overhead_us)
        rollups.append(Rollup(KEY, period * PERIOD, PERIOD, instances, metrics.take_window()))
    return rollups, truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_and_rates_over_several_rollups_are_exact(seed: int) -> None:
    rollups, truth = simulated(seed)
    status = np.array(truth["status"])
    assert statistic(Metric.INVOCATIONS, "Sum", rollups) == len(status)
    assert statistic(Metric.INVOCATION_4XX_ERRORS, "Sum", rollups) == (status == 400).sum()
    assert statistic(Metric.INVOCATION_5XX_ERRORS, "Average", rollups) == pytest.approx(
        (status >= 500).mean()
    )
    assert statistic(Metric.INVOCATION_MODEL_ERRORS, "Sum", rollups) == (status != 200).sum()
    assert statistic(Metric.INVOCATIONS_PER_INSTANCE, "Sum", rollups) == pytest.approx(
        len(status) / 2
    )


@pytest.mark.parametrize("seed", [4, 5])
@pytest.mark.parametrize("name", ["p50", "p90", "p99"])
def test_latency_percentiles_agree_with_numpy_within_half_a_bucket(seed: int, name: str) -> None:
    rollups, truth = simulated(seed)
    answered = [us for us in truth["model_us"] if us is not None]
    exact = np.percentile(answered, int(name[1:]), method="inverted_cdf")
    estimate = statistic(Metric.MODEL_LATENCY, name, rollups)
    assert estimate == pytest.approx(exact, rel=2 ** (1 / 16) - 1)
    assert statistic(Metric.OVERHEAD_LATENCY, "Average", rollups) == pytest.approx(
        np.mean(truth["overhead_us"])
    )


def test_no_invocations_is_no_data_and_bad_statistics_are_refused() -> None:
    empty = [Rollup(KEY, 0.0, PERIOD, 1, VariantMetrics(KEY).take_window())]
    assert statistic(Metric.INVOCATIONS, "Sum", empty) is None
    assert statistic(Metric.MODEL_LATENCY, "p99", []) is None
    with pytest.raises(ValueError, match="unknown statistic"):
        statistic(Metric.INVOCATIONS, "p42", empty)


def test_totals_include_the_window_in_progress() -> None:
    metrics = VariantMetrics(KEY)
    metrics.observe(200, False, 100.0, 10.0)
    metrics.take_window()
    metrics.observe(500, True, None, 10.0)  # no model answer: no model latency
    totals = metrics.totals()
    assert (totals.invocations, totals.errors_5xx, totals.model_errors) == (2, 1, 1)
    assert totals.model_latency.count == 1 and totals.overhead_latency.count == 2
    assert metrics.window.invocations == 1  # reading totals takes nothing away


def test_periods_align_to_multiples_of_the_period() -> None:
    assert align(1234.5) == 1230.0
    assert align(1230.0) == 1230.0
    assert align(59.9, 60) == 0.0
