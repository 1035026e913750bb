import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.histogram import BUCKETS, LatencyHistogram, bucket_of, upper_bound

ERROR = 2 ** (1 / 16) - 1  # half a bucket, relative
latencies = st.lists(st.floats(min_value=1.0, max_value=1e8), min_size=1, max_size=300)
quantiles = st.sampled_from([0.5, 0.9, 0.99, 1.0])


def filled(values: list[float]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    return histogram


@given(latencies, quantiles)
def test_a_quantile_is_within_half_a_bucket_of_the_exact_order_statistic(
    values: list[float], q: float
) -> None:
    exact = sorted(values)[max(1, math.ceil(q * len(values))) - 1]
    estimate = filled(values).quantile(q)
    assert estimate is not None
    assert abs(estimate - exact) <= exact * ERROR * 1.0001


@given(latencies, latencies)
def test_merging_equals_recording_everything_in_one(a: list[float], b: list[float]) -> None:
    merged = filled(a)
    merged.merge(filled(b))
    whole = filled(a + b)
    assert merged.counts == whole.counts
    assert merged.count == len(a) + len(b)
    assert math.isclose(merged.total, whole.total)
    assert merged.maximum == max(a + b)


@given(latencies)
def test_the_storage_form_round_trips(values: list[float]) -> None:
    histogram = filled(values)
    again = LatencyHistogram.from_parts(histogram.sparse(), histogram.total, histogram.maximum)
    assert again.counts == histogram.counts
    assert again.count == histogram.count
    assert again.quantile(0.99) == histogram.quantile(0.99)


def test_every_value_lands_in_the_bucket_whose_edges_hold_it() -> None:
    for value in np.geomspace(1.0, 1e8, 5000):
        index = bucket_of(float(value))
        assert upper_bound(index - 1) <= value < upper_bound(index)


def test_extremes_have_buckets_and_the_mean_is_exact() -> None:
    histogram = filled([0.2, 3.0, 1e12])
    assert histogram.counts[0] == 1 and histogram.counts[BUCKETS - 1] == 1
    assert histogram.mean == (0.2 + 3.0 + 1e12) / 3
    assert histogram.quantile(1.0) == 1e12  # clamped to the exact maximum
    assert LatencyHistogram().quantile(0.5) is None


def test_cumulative_counts_match_numpy_for_bucket_edges() -> None:
    rng = np.random.default_rng(7)
    values = rng.lognormal(mean=6, sigma=1.5, size=2000)
    histogram = filled(values.tolist())
    bounds = [upper_bound(i) for i in range(0, BUCKETS, 8)]
    expected = [int((values < bound).sum()) for bound in bounds]
    assert histogram.cumulative(bounds) == expected
