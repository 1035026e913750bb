"""Multi-model endpoints in the store (ADR 0037, migration 0014): a model's mode and the
rollups' model-cache counts round-trip on SQLite and PostgreSQL."""

from __future__ import annotations

from turnout.domain.resources import MULTI_MODEL, Model
from turnout.domain.rollups import PERIOD, Metric, Rollup, VariantKey, statistic
from turnout.metrics.counters import VariantMetrics
from turnout.store import Store

KEY = VariantKey("mme", "mme-c", "A")


def test_the_mode_round_trips(store: Store) -> None:
    multi = Model(name="many", artifact="s3://bucket/models/", mode=MULTI_MODEL)
    store.add_model(multi)
    store.add_model(Model(name="one", artifact="/a"))
    assert store.get_model("many") == multi and store.get_model("many").multi_model
    assert not store.get_model("one").multi_model


def test_model_cache_counts_round_trip_into_sagemakers_statistics(store: Store) -> None:
    metrics = VariantMetrics(KEY)
    for _ in range(3):
        metrics.observe(200, False, 100.0, 10.0)
    metrics.observe_model_cache(True, 0.0, 0.0, 0.0, 0.0)
    metrics.observe_model_cache(False, 900.0, 300.0, 500.0, 50.0)  # loaded it, evicted one
    metrics.observe_model_cache(False, 400.0, 0.0, 0.0, 0.0)  # waited for that load
    metrics.note_loaded(b"i0", 5)
    metrics.note_loaded(b"i1", 7)
    plain = VariantMetrics(VariantKey("mme", "mme-c", "B"))
    plain.observe(200, False, 100.0, 10.0)
    store.add_rollups(
        [Rollup(KEY, 0.0, PERIOD, 2, metrics.take_window()),
         Rollup(plain.key, 0.0, PERIOD, 1, plain.take_window())], "r1",
    )  # fmt: skip
    got = store.list_rollups("mme", 0.0, variant="A")
    assert statistic(Metric.MODEL_CACHE_HIT, "Average", got) == 1 / 3
    assert statistic(Metric.MODEL_CACHE_HIT, "SampleCount", got) == 3
    assert statistic(Metric.MODEL_LOADING_WAIT_TIME, "SampleCount", got) == 2
    assert statistic(Metric.MODEL_LOADING_TIME, "SampleCount", got) == 1
    assert statistic(Metric.MODEL_DOWNLOADING_TIME, "Maximum", got) == 300.0
    assert statistic(Metric.MODEL_UNLOADING_TIME, "Sum", got) == 50.0
    assert statistic(Metric.LOADED_MODEL_COUNT, "Maximum", got) == 12
    single = store.list_rollups("mme", 0.0, variant="B")
    assert single[0].window.model_cache is None
    assert statistic(Metric.MODEL_CACHE_HIT, "Average", single) is None
    assert statistic(Metric.LOADED_MODEL_COUNT, "Average", single) is None
