"""The experiment service over a real store: bad feedback refused whole, a report that
survives absurd stored values, and one experiment's auto-promote failure not holding up
another's."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from tests.store import builders
from turnout.errors import InvalidRequest
from turnout.experiments.definition import Experiment, Method, Metric, MetricKind
from turnout.experiments.service import ExperimentService, FeedbackEvent
from turnout.experiments.store import ExperimentStore
from turnout.service import ControlPlane
from turnout.store import Store
from turnout.store.experiments import ExposureRow, FeedbackRow

NOW = 1_000_000.0


class Control:
    """The slice of ControlPlane the service uses; `broken` endpoints fail to update."""

    def __init__(self, broken: set[str]) -> None:
        self.broken = broken
        self.updates: list[tuple[str, dict[str, float]]] = []
        self.weights = {"A": 1.0, "B": 1.0}
        self.modified_at = NOW - 100

    def describe_endpoint(self, name: str) -> Any:
        return SimpleNamespace(
            variants=[
                SimpleNamespace(name=v, current_weight=w, desired_weight=w)
                for v, w in self.weights.items()
            ],
            last_modified_at=self.modified_at,
        )

    def endpoint_fleets(self, name: str) -> Any:
        variants = [SimpleNamespace(name="A"), SimpleNamespace(name="B")]
        return SimpleNamespace(config=SimpleNamespace(variants=variants)), None

    def update_endpoint_weights_and_capacities(self, name: str, changes: Any) -> None:
        if name in self.broken:
            raise RuntimeError(f"the store said no for {name}")
        self.updates.append((name, {c.name: c.weight for c in changes}))


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = Store.open(f"sqlite:///{tmp_path / 'turnout.db'}")
    opened.add_model(builders.model("m"))
    config = builders.config("c", "m")
    opened.add_endpoint_config(config)
    for name in ("ep1", "ep2"):
        opened.add_endpoint(builders.endpoint(name, config))
    yield opened
    opened.close()


def service(store: Store, broken: set[str] = frozenset()) -> tuple[ExperimentService, Control]:  # type: ignore[assignment]
    control = Control(set(broken))
    return ExperimentService(
        ExperimentStore(store), cast(ControlPlane, control), lambda: NOW
    ), control


def experiment(name: str) -> Experiment:
    return Experiment(name, ("A", "B"), "A", Metric("converted"), minimum_sample=100)


def a_clear_winner(store: Store, endpoint: str) -> None:
    rows = ExperimentStore(store)
    rows.add_exposures(
        [ExposureRow(endpoint, f"u{i}", "AB"[i % 2], "c", None, True, NOW + 1) for i in range(800)]
    )
    rows.add_feedback(
        [FeedbackRow(endpoint, f"u{i}", None, "converted", 1.0, NOW + 2)
         for i in range(800) if (i % 2 and i % 5 < 3) or i % 20 == 0]
    )  # fmt: skip


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e200, -2e15])
def test_bad_values_refuse_the_whole_batch_and_store_nothing(store: Store, value: float) -> None:
    experiments, _ = service(store)
    experiments.record_feedback("ep1", [FeedbackEvent("m", 1.0, user="kept", at=NOW)])
    batch = [FeedbackEvent("m", 2.0, user="u"), FeedbackEvent("m", value, user="v")]
    with pytest.raises(InvalidRequest) as refused:
        experiments.record_feedback("ep1", batch)
    message = str(refused.value)
    assert message.startswith("Feedback event 2: value") and "\n" not in message
    assert ExperimentStore(store).feedback_counts("ep1") == {"m": (1, 1, 0)}  # the old one kept
    assert experiments.record_feedback("ep1", [FeedbackEvent("m", 1e15, user="u")]) == 1


def test_a_report_answers_with_absurd_values_in_the_store(store: Store) -> None:
    experiments, _ = service(store)
    definition = Experiment(
        "x", ("A", "B"), "A", Metric("revenue", MetricKind.NUMERIC), minimum_sample=2
    )
    experiments.create("ep1", definition, auto_promote=False)
    a_clear_winner(store, "ep1")
    ExperimentStore(store).add_feedback(
        [FeedbackRow("ep1", f"u{i}", None, "revenue", 10.0 + i % 7, NOW + 2) for i in range(50)]
        + [FeedbackRow("ep1", "u1", None, "revenue", 1e200, NOW + 3),
           FeedbackRow("ep1", "u2", None, "revenue", float("inf"), NOW + 3)]
    )  # fmt: skip
    result = experiments.report("ep1", "x")
    (comparison,) = result.report.primary
    assert result.report.users == {"A": 400, "B": 400}
    assert 0 < comparison.treatment.value < 20 and 0 <= comparison.p_value <= 1
    assert result.feedback["revenue"] == (52, 0, 2)


def test_one_experiments_failed_promotion_does_not_block_anothers(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    experiments, control = service(store, broken={"ep1"})
    for endpoint in ("ep1", "ep2"):
        experiments.create(endpoint, experiment("promo"), auto_promote=True)
        a_clear_winner(store, endpoint)
    with caplog.at_level(logging.ERROR, logger="turnout.experiments"):
        assert experiments.promote_winners() == ["promo"]  # ep2's
    assert control.updates == [("ep2", {"A": 0.0, "B": 1.0})]
    assert experiments.get("ep1", "promo").status == "running"  # tried again next time
    assert experiments.get("ep2", "promo").status == "promoted"
    assert "experiment promo on ep1: auto-promote failed" in caplog.text
    control.broken.clear()
    assert experiments.promote_winners() == ["promo"]
    assert experiments.get("ep1", "promo").status == "promoted"


def test_reports_carry_the_sequential_state_between_looks(store: Store) -> None:
    """The running minimum of the always-valid p-value survives a look at weaker data."""
    experiments, _ = service(store)
    experiments.create("ep1", experiment("x"), auto_promote=False)
    a_clear_winner(store, "ep1")
    first = experiments.report("ep1", "x").report.primary[0].always_valid_p
    ExperimentStore(store).add_exposures(  # 2,000 more users of A converting like B's
        [ExposureRow("ep1", f"w{i}", "A", "c", None, True, NOW + 5) for i in range(2000)]
    )
    ExperimentStore(store).add_feedback(
        [FeedbackRow("ep1", f"w{i}", None, "converted", 1.0, NOW + 6)
         for i in range(2000) if i % 5 < 3]
    )  # fmt: skip
    second = experiments.report("ep1", "x").report.primary[0].always_valid_p
    record = experiments.get("ep1", "x")
    assert first < 1e-6 and second == first
    assert record.state is not None and record.state["looks"] == 2 and record.state_version == 2
    again = experiments.report("ep1", "x")  # no new data (a dashboard's poll): no write
    assert again.report.state.looks == 2 and experiments.get("ep1", "x").state_version == 2
    experiments.stop("ep1", "x")
    experiments.report("ep1", "x")
    assert experiments.get("ep1", "x").state_version == 2  # stopped: read, not written


def test_a_weight_change_starts_a_phase_counted_on_its_own(store: Store) -> None:
    """90/10 users, then 50/50 ones: the report counts the second phase's users only,
    against 50/50, with a fresh sequential state; no sample-ratio alarm follows."""
    clock = [NOW]
    control = Control(set())
    control.weights = {"A": 9.0, "B": 1.0}
    experiments = ExperimentService(
        ExperimentStore(store), cast(ControlPlane, control), lambda: clock[0]
    )
    experiments.create("ep1", experiment("phased"), auto_promote=False)
    rows = ExperimentStore(store)
    rows.add_exposures(
        [ExposureRow("ep1", f"old{i}", "A" if i % 10 else "B", "c", None, True, NOW + 1)
         for i in range(1000)]
    )  # fmt: skip
    first = experiments.report("ep1", "phased")
    assert first.phase is not None and first.phase.number == 1
    assert dict(first.report.users) == {"A": 900, "B": 100}
    assert not first.report.sample_ratio_mismatch  # 90/10 is what the weights asked

    control.weights = {"A": 1.0, "B": 1.0}
    control.modified_at = NOW + 10
    clock[0] = NOW + 20
    rows.add_exposures(
        [ExposureRow("ep1", f"new{i}", "AB"[i % 2], "c", None, True, NOW + 11)
         for i in range(600)]
    )  # fmt: skip
    second = experiments.report("ep1", "phased")
    assert second.phase is not None
    assert (second.phase.number, second.phase.start) == (2, NOW + 10)
    assert dict(second.report.users) == {"A": 300, "B": 300}  # the 90/10 users are out
    assert second.report.expected_shares == {"A": 0.5, "B": 0.5}
    assert not second.report.sample_ratio_mismatch
    assert second.report.state.looks == 1  # a sequential state of its own
    again = experiments.report("ep1", "phased")
    assert again.phase == second.phase
    assert again.report.state.looks == 1  # the same data again: not a new look


def test_cuped_with_a_covariate_from_feedback_narrows_the_interval(store: Store) -> None:
    """Spend correlated rho = 0.7 with last month's spend (sent as feedback, dated before
    the experiment): the adjusted interval is about sqrt(1 - rho^2) as wide, and the
    variance removed about rho^2; users without any event count 0 for both."""
    experiments, _ = service(store)
    spend = Metric("spend", MetricKind.NUMERIC)
    adjusted = Metric("spend", MetricKind.NUMERIC, covariate="last_spend")
    for name, metric in (("plain", spend), ("cuped", adjusted)):
        definition = Experiment(name, ("A", "B"), "A", metric, minimum_sample=100,
                                method=Method.FIXED_HORIZON)  # fmt: skip
        experiments.create("ep1", definition, auto_promote=False)
    rng = np.random.default_rng(3)
    n, rho = 6000, 0.7
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=n)
    rows = ExperimentStore(store)
    rows.add_exposures(
        [ExposureRow("ep1", f"u{i}", "AB"[i % 2], "c", None, True, NOW + 1) for i in range(n)]
    )
    silent = {i for i in range(n) if i % 20 in (0, 1)}  # a tenth of each arm sends nothing
    rows.add_feedback(
        [FeedbackRow("ep1", f"u{i}", None, "spend", 100 + 20 * float(y[i]), NOW + 2)
         for i in range(n) if i not in silent]
        + [FeedbackRow("ep1", f"u{i}", None, "last_spend", 100 + 20 * float(x[i]), NOW - 1e4)
           for i in range(n) if i not in silent]
    )  # fmt: skip
    plain = experiments.report("ep1", "plain").report.primary[0]
    cuped = experiments.report("ep1", "cuped").report.primary[0]
    ratio = (cuped.absolute.high - cuped.absolute.low) / (plain.absolute.high - plain.absolute.low)
    # Zero-filled silent users raise the correlation a little: compare with numpy's own.
    values = np.where(np.isin(np.arange(n), list(silent)), 0.0, 100 + 20 * y)
    covariate = np.where(np.isin(np.arange(n), list(silent)), 0.0, 100 + 20 * x)
    r = np.corrcoef(values, covariate)[0, 1]
    assert ratio == pytest.approx(np.sqrt(1 - r * r), rel=0.10)
    assert cuped.variance_removed == pytest.approx(r * r, abs=0.05)
    assert plain.variance_removed is None
    assert (
        abs(cuped.absolute.value - plain.absolute.value) < plain.absolute.high - plain.absolute.low
    )
