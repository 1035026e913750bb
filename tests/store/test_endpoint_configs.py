from __future__ import annotations

import pytest

from turnout.domain.resources import EndpointConfig, ProductionVariant
from turnout.errors import AlreadyExists, InvalidRequest, NotFound
from turnout.store import Store

from .builders import config, model


def test_round_trips_variants_in_order(store: Store) -> None:
    for name in ("z", "a", "m"):
        store.add_model(model(name))
    created = config("c", "z", "a", "m", "a")
    store.add_endpoint_config(created)
    assert store.get_endpoint_config("c") == created


def test_unknown_model_raises_not_found_and_stores_nothing(store: Store) -> None:
    store.add_model(model("m"))
    with pytest.raises(NotFound, match=r'^Could not find model "ghost"\.$') as raised:
        store.add_endpoint_config(config("c", "m", "ghost"))
    assert raised.value.kind == "model"
    with pytest.raises(NotFound):
        store.get_endpoint_config("c")
    # The failed attempt left no row behind that would block the name.
    store.add_endpoint_config(config("c", "m"))


def test_deleted_model_cannot_be_referenced(store: Store) -> None:
    store.add_model(model("m"))
    store.delete_model("m")
    with pytest.raises(NotFound, match='model "m"'):
        store.add_endpoint_config(config("c", "m"))


def test_add_twice_raises_already_exists(store: Store) -> None:
    store.add_model(model("m"))
    store.add_endpoint_config(config("c"))
    with pytest.raises(
        AlreadyExists, match=r'^Cannot create already existing endpoint config "c"\.$'
    ):
        store.add_endpoint_config(config("c"))


def test_repeated_variant_names_are_invalid(store: Store) -> None:
    store.add_model(model("m"))
    variant = ProductionVariant(name="v", model_name="m")
    with pytest.raises(InvalidRequest, match="repeat"):
        store.add_endpoint_config(EndpointConfig(name="c", variants=(variant, variant)))


def test_unknown_config_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match=r'^Could not find endpoint config "c"\.$') as raised:
        store.get_endpoint_config("c")
    assert raised.value.kind == "endpoint config"
    with pytest.raises(NotFound, match=r'^Could not find endpoint config "c"\.$'):
        store.delete_endpoint_config("c")


def test_list_orders_by_created_at_then_name(store: Store) -> None:
    store.add_model(model("m"))
    for name, created_at in [("b", 2.0), ("c", 1.0), ("a", 2.0)]:
        store.add_endpoint_config(config(name, created_at=created_at))
    listed = store.list_endpoint_configs()
    assert [c.name for c in listed] == ["c", "a", "b"]
    assert listed[0] == config("c", created_at=1.0)


def test_config_keeps_the_model_it_was_created_with(store: Store) -> None:
    """SageMaker semantics: deleting (and re-registering) a model leaves configs alone."""
    store.add_model(model("m", artifact="/v1"))
    store.add_endpoint_config(config("c"))
    store.delete_model("m")
    assert store.get_endpoint_config("c") == config("c")
    store.add_model(model("m", artifact="/v2"))
    store.add_endpoint_config(config("c2"))
    assert store.get_endpoint_config("c").variants[0].model_name == "m"


def test_delete_hides_the_config_and_frees_its_name(store: Store) -> None:
    store.add_model(model("m"))
    store.add_endpoint_config(config("c", created_at=1.0))
    store.delete_endpoint_config("c")
    with pytest.raises(NotFound):
        store.get_endpoint_config("c")
    assert store.list_endpoint_configs() == []
    store.add_endpoint_config(config("c", created_at=2.0))
    assert store.get_endpoint_config("c").created_at == 2.0
