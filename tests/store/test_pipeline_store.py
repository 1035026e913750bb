"""An inference pipeline's containers in the store (ADR 0039, migration 0016)."""

from __future__ import annotations

from turnout.domain.resources import Container, Model
from turnout.store import Store


def test_the_containers_round_trip(store: Store) -> None:
    steps = (
        Container("/scaler", "inference", {"SAGEMAKER_PROGRAM": "inference.py"}, hostname="s"),
        Container("s3://bucket/model.tar.gz", image="sklearn:1.2"),
    )
    pipeline = Model(name="pipe", artifact="/scaler", flavor="inference", containers=steps)
    store.add_model(pipeline)
    store.add_model(Model(name="one", artifact="/a"))
    assert store.get_model("pipe") == pipeline and store.get_model("pipe").pipeline
    assert store.get_model("one").containers == () and not store.get_model("one").pipeline
