"""The experiments' tables on SQLite and PostgreSQL: routing settings created once and
dropped with their endpoint, first exposures win, per-user aggregation, unmatched feedback."""

from __future__ import annotations

import pytest

from turnout.errors import AlreadyExists, NotFound
from turnout.experiments.store import ExperimentStore
from turnout.store import Store
from turnout.store.experiments import ExposureRow, FeedbackRow, MetricQuery, MetricTotals

from . import builders


@pytest.fixture
def experiments(store: Store) -> ExperimentStore:
    store.add_model(builders.model("m"))
    config = builders.config("c", "m")
    store.add_endpoint_config(config)
    store.add_endpoint(builders.endpoint("ep", config))
    return ExperimentStore(store)


def exposure(user: str, variant: str, at: float = 1.0, inference: str | None = None) -> ExposureRow:
    return ExposureRow("ep", user, variant, "c", inference, True, at)


def test_routing_settings_are_created_once_and_go_with_the_endpoint(
    store: Store, experiments: ExperimentStore
) -> None:
    first = experiments.ensure_routing("ep", "salt-1", {"rules": []}, 1.0)
    again = experiments.ensure_routing("ep", "salt-2", {"rules": []}, 2.0)
    assert first == again == ("salt-1", {"rules": []})
    experiments.save_routing("ep", {"rules": [{"x": 1}]}, 3.0)
    assert experiments.ensure_routing("ep", "salt-3", {}, 4.0)[1] == {"rules": [{"x": 1}]}
    with pytest.raises(NotFound):
        experiments.ensure_routing("nope", "s", {}, 1.0)
    store.delete_endpoint("ep")
    with pytest.raises(NotFound):
        experiments.ensure_routing("ep", "s", {}, 1.0)


def test_first_exposures_win_and_feedback_aggregates_per_user(
    experiments: ExperimentStore,
) -> None:
    experiments.add_exposures([exposure("u1", "A", inference="i1"), exposure("u2", "A")])
    experiments.add_exposures(
        [exposure("u1", "B", 2.0), exposure("u3", "B"), exposure("u4", "B"),
         ExposureRow("ep", "t1", "B", "c", None, False, 1.0)]  # targeted: not counted
    )  # fmt: skip
    assert experiments.exposed_variant("ep", "u1") == "A"
    experiments.add_feedback(
        [FeedbackRow("ep", "u1", None, "converted", 1.0, 5.0),
         FeedbackRow("ep", "u1", None, "converted", 1.0, 6.0),  # twice: still one user
         FeedbackRow("ep", None, "i1", "basket", 10.0, 5.0),  # by inference id: u1
         FeedbackRow("ep", "u1", None, "basket", 20.0, 5.0),
         FeedbackRow("ep", "u3", None, "converted", 0.0, 5.0),
         FeedbackRow("ep", "u4", None, "basket", 4.0, 5.0),
         FeedbackRow("ep", "ghost", None, "converted", 1.0, 5.0),
         FeedbackRow("ep", None, "no-such-inference", "converted", 1.0, 5.0)]
    )  # fmt: skip
    totals = experiments.metric_totals(
        "ep", {"converted": MetricQuery(("converted",)), "basket": MetricQuery(("basket",))}
    )
    a, b = totals["converted"]["A"], totals["converted"]["B"]
    assert isinstance(a, MetricTotals) and isinstance(b, MetricTotals)
    assert (a.users, a.with_data, a.converted) == (2, 1, 1)
    assert (b.users, b.with_data, b.converted) == (2, 1, 0)
    basket_a, basket_b = totals["basket"]["A"], totals["basket"]["B"]
    assert isinstance(basket_a, MetricTotals) and isinstance(basket_b, MetricTotals)
    assert (basket_a.with_data, basket_a.mean, basket_a.m2) == (1, 15.0, 0.0)
    assert (basket_b.with_data, basket_b.mean) == (1, 4.0)
    assert experiments.feedback_counts("ep") == {"converted": (5, 2, 0), "basket": (3, 0, 0)}
    assert experiments.delete_before(5.5) == 5 + 1 + 7  # exposures, inference, feedback
    assert experiments.feedback_counts("ep") == {"converted": (1, 1, 0)}


def test_experiment_names_are_unique_per_endpoint_and_finish_once(
    experiments: ExperimentStore,
) -> None:
    experiments.add_experiment("ep", "x", {"name": "x"}, False, 1.0)
    with pytest.raises(AlreadyExists):
        experiments.add_experiment("ep", "x", {"name": "x"}, True, 2.0)
    assert experiments.finish_experiment("ep", "x", "stopped", "why", 3.0)
    assert not experiments.finish_experiment("ep", "x", "promoted", "again", 4.0)
    record = experiments.get_experiment("ep", "x")
    assert (record.status, record.outcome, record.stopped_at) == ("stopped", "why", 3.0)
    assert [r.name for r in experiments.list_experiments("ep")] == ["x"]
