from __future__ import annotations

import pytest

from turnout.domain.resources import Model
from turnout.errors import AlreadyExists, NotFound
from turnout.store import Store

from .builders import model


def test_round_trips_every_field(store: Store) -> None:
    registered = model("m")
    store.add_model(registered)
    got = store.get_model("m")
    assert got == registered
    assert type(got.flavor) is str
    assert type(got.command) is tuple


def test_defaults_round_trip(store: Store) -> None:
    """command None (not an empty list), empty environment, no image, created_at 0."""
    store.add_model(Model(name="bare", artifact="/a"))
    assert store.get_model("bare") == Model(name="bare", artifact="/a")


def test_empty_command_is_not_none(store: Store) -> None:
    store.add_model(model("m", command=()))
    assert store.get_model("m").command == ()


def test_add_twice_raises_already_exists(store: Store) -> None:
    store.add_model(model("m"))
    with pytest.raises(AlreadyExists, match=r'^Cannot create already existing model "m"\.$'):
        store.add_model(model("m", artifact="/other"))
    assert store.get_model("m").artifact == "/models/m"


def test_unknown_model_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match=r'^Could not find model "nope"\.$') as raised:
        store.get_model("nope")
    assert (raised.value.kind, raised.value.name) == ("model", "nope")
    with pytest.raises(NotFound, match=r'^Could not find model "nope"\.$'):
        store.delete_model("nope")


def test_list_orders_by_created_at_then_name(store: Store) -> None:
    for name, created_at in [("b", 2.0), ("c", 1.0), ("a", 2.0), ("d", 3.0)]:
        store.add_model(model(name, created_at=created_at))
    assert [m.name for m in store.list_models()] == ["c", "a", "b", "d"]


def test_delete_hides_the_model_and_frees_its_name(store: Store) -> None:
    store.add_model(model("m", artifact="/v1"))
    store.delete_model("m")
    with pytest.raises(NotFound):
        store.get_model("m")
    with pytest.raises(NotFound):
        store.delete_model("m")
    assert store.list_models() == []

    store.add_model(model("m", artifact="/v2"))
    assert store.get_model("m").artifact == "/v2"
    assert [m.artifact for m in store.list_models()] == ["/v2"]
