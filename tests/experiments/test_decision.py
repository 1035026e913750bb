"""Experiment definitions, analysis from aggregates, and the plain-language decision."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest

from turnout.errors import InvalidRequest
from turnout.experiments.analysis import VariantData, analyse
from turnout.experiments.decision import Verdict, decide
from turnout.experiments.definition import Direction, Experiment, Method, Metric, MetricKind
from turnout.experiments.statistics import Moments

CONVERSION = Metric("conversion")
LATENCY = Metric("latency_ms", MetricKind.NUMERIC, Direction.LOWER)
EXPERIMENT = Experiment(
    "checkout", ("A", "B"), "A", CONVERSION, guardrails=(LATENCY,), minimum_sample=1000
).validated()


def variant(
    users: int, conversions: int, latency: tuple[float, float] = (50.0, 10.0)
) -> VariantData:
    """A variant's aggregates: conversions, and latency with the given mean and spread."""
    mean, sd = latency
    sums = Moments(users, mean * users, (sd * sd + mean * mean) * users)
    conversion = Moments(users, conversions, conversions)
    return VariantData(users, {"conversion": conversion, LATENCY.name: sums})


def test_a_clear_lift_names_the_winner_with_its_lift() -> None:
    report = analyse(EXPERIMENT, {"A": variant(20_000, 2000), "B": variant(20_000, 2400)})
    (comparison,) = report.primary
    assert comparison.relative is not None
    assert comparison.relative.value == pytest.approx(0.2)
    assert comparison.absolute.value == pytest.approx(0.02)
    assert comparison.significant and comparison.better
    assert comparison.chance_to_beat > 0.999
    decision = decide(report)
    assert decision.verdict is Verdict.WINNER
    assert decision.message.startswith("B wins on conversion: +0.02 (CI +0.01")
    # The always-valid confidence sequence: wider than the fixed-horizon +14% to +26%.
    assert "+20.0% (CI +9.8% to +31.1%)" in decision.message


def test_a_sample_ratio_mismatch_stops_the_experiment_before_anything_else() -> None:
    report = analyse(EXPERIMENT, {"A": variant(49_000, 4900), "B": variant(51_000, 6000)})
    assert report.sample_ratio_mismatch
    decision = decide(report)
    assert decision.verdict is Verdict.STOP_SRM
    assert decision.message.startswith("stop: SRM — users split A 49,000, B 51,000, p = ")


def test_expected_shares_drive_the_sample_ratio_check() -> None:
    uneven = dataclasses.replace(EXPERIMENT, shares={"A": 0.9, "B": 0.1}).validated()
    data = {"A": variant(90_000, 9000), "B": variant(10_000, 1000)}
    assert not analyse(uneven, data).sample_ratio_mismatch
    assert analyse(EXPERIMENT, data).sample_ratio_mismatch


def test_a_worse_guardrail_stops_even_a_winning_variant() -> None:
    data = {"A": variant(20_000, 2000), "B": variant(20_000, 2400, latency=(53.0, 10.0))}
    decision = decide(analyse(EXPERIMENT, data))
    assert decision.verdict is Verdict.STOP_GUARDRAIL
    assert decision.variant == "B"
    assert decision.message.startswith("guardrail latency_ms worse in B: +3 (CI +2.")


def test_a_better_guardrail_is_no_alarm() -> None:
    data = {"A": variant(20_000, 2000), "B": variant(20_000, 2400, latency=(45.0, 10.0))}
    assert decide(analyse(EXPERIMENT, data)).verdict is Verdict.WINNER


def test_keeps_running_below_the_minimum_sample_whatever_the_numbers() -> None:
    data = {"A": variant(900, 50), "B": variant(900, 300)}
    decision = decide(analyse(EXPERIMENT, data))
    assert decision.verdict is Verdict.KEEP_RUNNING
    assert decision.message == (
        "keep running: 1,000 users per variant needed, A has 900, B has 900"
    )


def test_no_difference_keeps_a_sequential_experiment_running() -> None:
    data = {"A": variant(20_000, 2000), "B": variant(20_000, 2010)}
    decision = decide(analyse(EXPERIMENT, data))
    assert decision == decision.__class__(
        Verdict.KEEP_RUNNING, "keep running: no significant difference on conversion yet"
    )


@pytest.mark.parametrize("method", [Method.FIXED_HORIZON, Method.BAYESIAN])
def test_no_difference_ends_a_one_read_experiment_at_its_sample(method: Method) -> None:
    experiment = dataclasses.replace(EXPERIMENT, method=method)
    data = {"A": variant(20_000, 2000), "B": variant(20_000, 2010)}
    assert decide(analyse(experiment, data)).verdict is Verdict.NO_DIFFERENCE


@pytest.mark.parametrize("method", list(Method))
def test_every_method_finds_a_clear_loser(method: Method) -> None:
    experiment = dataclasses.replace(EXPERIMENT, method=method)
    data = {"A": variant(20_000, 2400), "B": variant(20_000, 2000)}
    decision = decide(analyse(experiment, data))
    assert (decision.verdict, decision.variant) == (Verdict.CONTROL_WINS, "A")
    assert decision.message.startswith("A (control) wins on conversion: B -0.02")


def test_fixed_horizon_is_more_eager_than_sequential_on_a_borderline_lift() -> None:
    # z ~ 2.3: significant for one planned look, not yet for a test that allows peeking.
    data = {"A": variant(20_000, 2000), "B": variant(20_000, 2140)}
    fixed = dataclasses.replace(EXPERIMENT, method=Method.FIXED_HORIZON)
    assert decide(analyse(fixed, data)).verdict is Verdict.WINNER
    assert decide(analyse(EXPERIMENT, data)).verdict is Verdict.KEEP_RUNNING


def test_the_primary_alpha_is_shared_among_treatments() -> None:
    three = Experiment("e", ("A", "B", "C"), "A", CONVERSION, method=Method.FIXED_HORIZON)
    # p ~ 0.035: a winner against one treatment, not when alpha is split in two.
    data = {"A": variant(20_000, 2000), "B": variant(20_000, 2126), "C": variant(20_000, 2000)}
    (b, _) = analyse(three.validated(), data).primary
    assert 0.025 < b.p_value < 0.05
    assert not b.significant
    two = Experiment("e", ("A", "B"), "A", CONVERSION, method=Method.FIXED_HORIZON)
    (b_alone,) = analyse(two.validated(), data).primary
    assert b_alone.significant


def test_the_best_of_several_winners_is_named() -> None:
    three = Experiment("e", ("A", "B", "C"), "A", CONVERSION).validated()
    data = {"A": variant(20_000, 2000), "B": variant(20_000, 2400), "C": variant(20_000, 2600)}
    assert decide(analyse(three, data)).variant == "C"


def test_a_variant_without_data_keeps_the_experiment_running() -> None:
    report = analyse(EXPERIMENT, {"A": variant(20_000, 2000)})
    assert report.users == {"A": 20_000, "B": 0}
    assert not report.primary[0].significant
    # 20,000 against 0 is a mismatch by any measure: the assignment is broken.
    assert decide(report).verdict is Verdict.STOP_SRM


def test_numeric_primary_metric_uses_welch_and_the_means() -> None:
    experiment = Experiment(
        "speed", ("A", "B"), "A", LATENCY, method=Method.FIXED_HORIZON
    ).validated()
    rng = np.random.default_rng(4)
    a, b = rng.normal(50, 10, 5000), rng.normal(49, 10, 5000)
    data = {
        "A": VariantData(5000, {LATENCY.name: Moments.of(list(a))}),
        "B": VariantData(5000, {LATENCY.name: Moments.of(list(b))}),
    }
    (comparison,) = analyse(experiment, data).primary
    assert comparison.better and comparison.significant
    assert comparison.treatment.value == pytest.approx(b.mean())
    assert decide(analyse(experiment, data)).variant == "B"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"variants": ("A",)}, "needs 2 to 10 variants"),
        ({"variants": ("A", "A")}, "only once"),
        ({"control": "Z"}, 'The control "Z" is not one of the variants.'),
        ({"name": "bad name"}, 'Invalid experiment name "bad name"'),
        ({"guardrails": (Metric("conversion"),)}, "Metric names must differ"),
        ({"alpha": 0.9}, "alpha must be between"),
        ({"minimum_sample": 1}, "minimum_sample must be between"),
        ({"shares": {"A": 1.0}}, "shares must name exactly"),
        ({"shares": {"A": 1.0, "B": 0.0}}, "positive number"),
    ],
)
def test_invalid_definitions_are_refused_with_one_line(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        dataclasses.replace(EXPERIMENT, **changes).validated()
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_definitions_round_trip_through_json() -> None:
    experiment = dataclasses.replace(
        EXPERIMENT, method=Method.BAYESIAN, shares={"A": 0.9, "B": 0.1}, alpha=0.01
    )
    document = json.loads(json.dumps(experiment.to_document()))
    assert Experiment.from_document(document) == experiment
    short = {"name": "e", "variants": ["A", "B"], "control": "A", "primary": {"name": "clicks"}}
    assert Experiment.from_document(short) == Experiment("e", ("A", "B"), "A", Metric("clicks"))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"primary": None}, "The primary metric must be a JSON object."),
        (
            {"primary": {"name": "x", "kind": "share"}},
            '"kind" must be one of: binary, numeric, ratio',
        ),
        ({"guardrails": [{"name": "x", "speed": 1}]}, 'guardrail 1 has an unknown field "speed"'),
        ({"method": "frequentist"}, "must be one of: sequential, fixed_horizon, bayesian"),
        ({"variants": "A,B"}, 'The experiment\'s "variants" must be a list.'),
        ({"alpha": "0.05"}, '"alpha" must be a number.'),
        ({"minimum_sample": 10.5}, '"minimum_sample" must be a whole number.'),
        ({"shares": {"A": "half"}}, '"shares" must map variant names to numbers.'),
        ({"owner": "me"}, 'unknown field "owner"'),
        ({"control": "C"}, 'The control "C" is not one of the variants.'),
    ],
)
def test_malformed_definition_documents_are_refused_with_one_line(
    changes: dict[str, Any], words: str
) -> None:
    document = {**EXPERIMENT.to_document(), **changes}
    with pytest.raises(InvalidRequest) as caught:
        Experiment.from_document(document)
    assert words in str(caught.value)


def test_a_definition_document_must_name_its_control() -> None:
    document = EXPERIMENT.to_document()
    del document["control"]
    with pytest.raises(InvalidRequest, match=r'The experiment lacks "control"\.'):
        Experiment.from_document(document)
