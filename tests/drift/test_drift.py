"""The drift math (turnout.drift.drift) and baselines, seeded, checked against scipy."""

from __future__ import annotations

import math
import random
import statistics as stats

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from turnout.drift.baseline import BINS, compute, constraints, from_document, statistics
from turnout.drift.baseline import to_document as baseline_document
from turnout.drift.drift import linf, psi, report
from turnout.errors import InvalidRequest

HEADER = ["x0", "x1", "x2", "colour"]
COLOURS = ["red", "green", "blue"]


def rows(
    n: int, seed: int, shift: float = 0.0, colours: list[float] | None = None
) -> list[list[str]]:
    """`n` rows: three standard normal features (x1 moved by `shift` std) and a colour."""
    rng = random.Random(seed)
    weights = colours or [0.5, 0.3, 0.2]
    return [
        [
            f"{rng.gauss(0, 1):.5f}",
            f"{rng.gauss(10, 2) + shift * 2:.5f}",
            f"{rng.gauss(-3, 0.5):.5f}",
            rng.choices(COLOURS, weights)[0],
        ]
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def baseline():  # type: ignore[no-untyped-def]
    return compute(HEADER, rows(5000, seed=1))


def test_traffic_like_the_training_data_raises_no_violation(baseline) -> None:  # type: ignore[no-untyped-def]
    for seed in (2, 3, 4):
        found = report(baseline, rows(400, seed=seed))
        assert found.violations == [], found
        assert all(f.distance < baseline.threshold for f in found.features)


def test_one_feature_shifted_by_one_std_is_flagged_alone(baseline) -> None:  # type: ignore[no-untyped-def]
    found = report(baseline, rows(400, seed=5, shift=1.0))
    assert found.violations == ["x1"]
    x1 = found.features[1]
    assert x1.violations == ("baseline_drift_check",)
    # One std: the two normal CDFs differ by at most 2*Phi(0.5)-1 = 0.38 (KS) ...
    assert 0.3 < x1.distance < 0.46
    assert x1.psi is not None and x1.psi > 0.25  # ... and PSI's "significant shift"
    assert all(f.psi is None or f.psi < 0.1 for f in found.features if f.name != "x1")


def test_ks_matches_scipy(baseline) -> None:  # type: ignore[no-untyped-def]
    observed = rows(300, seed=6, shift=0.5)
    found = report(baseline, observed)
    expected = ks_2samp(baseline.features[1].sample, [float(r[1]) for r in observed])
    assert found.features[1].distance == pytest.approx(expected.statistic)
    assert found.features[1].p_value == pytest.approx(expected.pvalue)


def test_a_shifted_category_mix_is_flagged(baseline) -> None:  # type: ignore[no-untyped-def]
    found = report(baseline, rows(400, seed=7, colours=[0.2, 0.3, 0.5]))
    assert found.violations == ["colour"]
    assert found.features[3].distance == pytest.approx(0.3, abs=0.07)  # red: 0.5 -> 0.2


def test_missing_values_and_wrong_types_are_violations(baseline) -> None:  # type: ignore[no-untyped-def]
    observed = rows(200, seed=8)
    for r in observed[:50]:
        r[0] = ""
    for r in observed[50:60]:
        r[2] = "n/a"
    found = {f.name: f for f in report(baseline, observed).features}
    assert "completeness_check" in found["x0"].violations and found["x0"].missing == 50
    assert "data_type_check" in found["x2"].violations and found["x2"].type_errors == 10
    assert found["x1"].violations == ()


def test_prediction_mix(baseline) -> None:  # type: ignore[no-untyped-def]
    found = report(baseline, rows(4, seed=9), ["1", "0", "1", "1"])
    assert found.predictions == {"0": 0.25, "1": 0.75}


def test_baseline_statistics(baseline) -> None:  # type: ignore[no-untyped-def]
    values = [float(r[1]) for r in rows(5000, seed=1)]
    x1 = baseline.features[1]
    assert x1.mean == pytest.approx(stats.fmean(values))
    assert x1.std == pytest.approx(stats.pstdev(values))
    assert (x1.min, x1.max) == (min(values), max(values))
    assert list(x1.edges) == sorted(x1.edges) and len(x1.bin_counts) == BINS
    assert sum(x1.bin_counts) == 5000
    assert all(abs(c - 500) <= 2 for c in x1.bin_counts)  # quantile bins: equal counts
    colour = baseline.features[3]
    assert not colour.numeric and sum(colour.frequencies.values()) == 5000
    assert from_document(baseline_document(baseline)) == baseline
    shown = statistics(baseline)["features"][1]["numerical_statistics"]
    assert shown["mean"] == x1.mean
    assert constraints(baseline)["features"][3] == {
        "name": "colour", "inferred_type": "String", "completeness": 1.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("header", "table", "words"),
    [
        ([], [], "header"),
        (["a", "a"], [["1", "2"]], "twice"),
        (["a"], [], "no rows"),
        (["a", "b"], [["1"]], "Row 2 has 1 values"),
    ],
)
def test_bad_training_data(header: list[str], table: list[list[str]], words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        compute(header, table)


counts = st.lists(st.integers(0, 1000), min_size=2, max_size=20)


@given(counts)
def test_psi_of_a_histogram_with_itself_is_zero(c: list[int]) -> None:
    assert psi(c, c) == pytest.approx(0.0, abs=1e-12)


@given(st.integers(2, 20).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 1000), min_size=n, max_size=n),
    st.lists(st.integers(0, 1000), min_size=n, max_size=n),
)))  # fmt: skip
def test_psi_is_never_negative(pair: tuple[list[int], list[int]]) -> None:
    assert psi(*pair) >= -1e-12


def test_psi_by_hand() -> None:
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.5 - 0.75) * math.log(0.5 / 0.75)
    assert psi([25, 75], [50, 50]) == pytest.approx(expected)


@given(
    st.dictionaries(st.sampled_from("abcde"), st.integers(0, 100)),
    st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 100)),
)
def test_linf_is_a_share_difference(a: dict[str, int], b: dict[str, int]) -> None:
    assert 0.0 <= linf(a, b) <= 1.0
    assert linf(a, a) == 0.0
