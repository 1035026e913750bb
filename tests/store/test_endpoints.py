from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from turnout.domain.resources import Endpoint, EndpointStatus, Fleet, VariantState
from turnout.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from turnout.store import Store

from .builders import config, endpoint, model


@pytest.fixture
def blue_green(store: Store) -> Store:
    """Models m1, m2; config "blue" (m1) and "green" (m1, m2); endpoint "e" on blue."""
    store.add_model(model("m1"))
    store.add_model(model("m2"))
    store.add_endpoint_config(config("blue", "m1"))
    store.add_endpoint_config(config("green", "m1", "m2"))
    store.add_endpoint(endpoint("e", config("blue", "m1")))
    return store


def test_round_trips_every_field(store: Store) -> None:
    store.add_model(model("m"))
    store.add_endpoint_config(config("c", "m", "m"))
    store.add_endpoint_config(config("next", "m"))
    created = Endpoint(
        name="e",
        config_name="c",
        status=EndpointStatus.UPDATING,
        variants=(
            VariantState("v1-m", 0.75, 3, current_weight=0.5, current_instance_count=2),
            VariantState("v0-m", 0.25, 1),
        ),
        failure_reason="instance 2 exited with code 1",
        created_at=1_700_000_000.125,
        last_modified_at=1_700_000_060.5,
        pending_config_name="next",
    )
    store.add_endpoint(created)
    got = store.get_endpoint("e")
    assert got == created
    assert type(got.status) is EndpointStatus
    assert store.list_endpoints() == [created]


def test_unknown_config_raises_not_found(store: Store) -> None:
    store.add_model(model("m"))
    with pytest.raises(NotFound, match=r'^Could not find endpoint config "c"\.$') as raised:
        store.add_endpoint(endpoint("e", config("c")))
    assert raised.value.kind == "endpoint config"
    store.add_endpoint_config(config("c"))
    store.delete_endpoint_config("c")
    with pytest.raises(NotFound, match='endpoint config "c"'):
        store.add_endpoint(endpoint("e", config("c")))
    with pytest.raises(NotFound, match=r'^Could not find endpoint "e"\.$'):
        store.get_endpoint("e")


def test_add_twice_raises_already_exists(blue_green: Store) -> None:
    with pytest.raises(AlreadyExists, match=r'^Cannot create already existing endpoint "e"\.$'):
        blue_green.add_endpoint(endpoint("e", config("green", "m1", "m2")))
    assert blue_green.get_endpoint("e").config_name == "blue"


def test_list_orders_by_created_at_then_name(blue_green: Store) -> None:
    blue = config("blue", "m1")
    blue_green.add_endpoint(endpoint("b", blue, created_at=1.0))
    blue_green.add_endpoint(endpoint("a", blue, created_at=1.0))
    assert [e.name for e in blue_green.list_endpoints()] == ["a", "b", "e"]


def test_save_state_replaces_status_variants_and_reason(blue_green: Store) -> None:
    variants = (
        VariantState("v1-m2", 0.5, 2, current_weight=0.0, current_instance_count=0),
        VariantState("v0-m1", 0.5, 1, current_weight=1.0, current_instance_count=1),
    )
    blue_green.save_endpoint_state(
        "e",
        status=EndpointStatus.FAILED,
        variants=variants,
        failure_reason="no instance became ready",
        last_modified_at=99.5,
    )
    got = blue_green.get_endpoint("e")
    assert (got.status, got.variants, got.failure_reason) == (
        EndpointStatus.FAILED,
        variants,
        "no instance became ready",
    )
    assert (got.created_at, got.last_modified_at) == (1_700_000_200.75, 99.5)

    blue_green.save_endpoint_state(
        "e",
        status=EndpointStatus.IN_SERVICE,
        variants=variants[1:],
        failure_reason=None,
        last_modified_at=100.0,
    )
    got = blue_green.get_endpoint("e")
    assert (got.status, got.variants, got.failure_reason) == (
        EndpointStatus.IN_SERVICE,
        variants[1:],
        None,
    )


def test_repeated_variant_state_names_are_invalid(blue_green: Store) -> None:
    state = VariantState("v", 1.0, 1)
    with pytest.raises(InvalidRequest, match="repeat"):
        blue_green.save_endpoint_state(
            "e",
            status=EndpointStatus.IN_SERVICE,
            variants=(state, state),
            failure_reason=None,
            last_modified_at=1.0,
        )
    assert blue_green.get_endpoint("e").status is EndpointStatus.CREATING


def _fleet_names(fleet: Fleet | None) -> tuple[str, list[str]] | None:
    if fleet is None:
        return None
    return fleet.config.name, [fleet.models[v.name].name for v in fleet.config.variants]


def test_update_flow_pending_then_promote(blue_green: Store) -> None:
    assert blue_green.get_endpoint("e").pending_config_name is None
    current, pending = blue_green.endpoint_fleets("e")
    assert _fleet_names(current) == ("blue", ["m1"])
    assert pending is None

    blue_green.set_pending_config("e", "green")
    got = blue_green.get_endpoint("e")
    assert (got.config_name, got.pending_config_name) == ("blue", "green")
    current, pending = blue_green.endpoint_fleets("e")
    assert _fleet_names(current) == ("blue", ["m1"])
    assert _fleet_names(pending) == ("green", ["m1", "m2"])
    assert pending is not None and pending.config == config("green", "m1", "m2")

    blue_green.promote_pending_config("e")
    got = blue_green.get_endpoint("e")
    assert (got.config_name, got.pending_config_name) == ("green", None)
    current, pending = blue_green.endpoint_fleets("e")
    assert _fleet_names(current) == ("green", ["m1", "m2"])
    assert pending is None


def test_pending_can_be_cleared(blue_green: Store) -> None:
    """A rolled-back update drops the green fleet."""
    blue_green.set_pending_config("e", "green")
    blue_green.set_pending_config("e", None)
    assert blue_green.get_endpoint("e").pending_config_name is None
    assert blue_green.endpoint_fleets("e")[1] is None


def test_pending_needs_a_live_config(blue_green: Store) -> None:
    with pytest.raises(NotFound, match=r'^Could not find endpoint config "nope"\.$'):
        blue_green.set_pending_config("e", "nope")
    blue_green.delete_endpoint_config("green")
    with pytest.raises(NotFound, match='endpoint config "green"'):
        blue_green.set_pending_config("e", "green")


def test_promote_works_after_the_pending_config_was_deleted(blue_green: Store) -> None:
    blue_green.set_pending_config("e", "green")
    blue_green.delete_endpoint_config("green")
    blue_green.delete_model("m2")
    assert blue_green.get_endpoint("e").pending_config_name == "green"
    blue_green.promote_pending_config("e")
    assert blue_green.get_endpoint("e").config_name == "green"
    assert _fleet_names(blue_green.endpoint_fleets("e")[0]) == ("green", ["m1", "m2"])


def test_promote_without_pending_is_a_conflict(blue_green: Store) -> None:
    with pytest.raises(Conflict, match="no pending endpoint config"):
        blue_green.promote_pending_config("e")
    assert blue_green.get_endpoint("e").config_name == "blue"


def test_endpoint_keeps_serving_deleted_models_and_configs(blue_green: Store) -> None:
    """SageMaker semantics: an endpoint keeps its exact config and models."""
    original = model("m1")
    blue_green.delete_endpoint_config("blue")
    blue_green.delete_model("m1")
    blue_green.add_model(model("m1", artifact="/retrained"))
    blue_green.add_endpoint_config(config("blue", "m1", created_at=5.0))

    assert blue_green.get_endpoint("e").config_name == "blue"
    assert [e.config_name for e in blue_green.list_endpoints()] == ["blue"]
    current, _ = blue_green.endpoint_fleets("e")
    assert current.config == config("blue", "m1")
    assert current.models == {"v0-m1": original}


def test_delete_endpoint_is_final_and_frees_the_name(blue_green: Store) -> None:
    blue_green.delete_endpoint("e")
    with pytest.raises(NotFound):
        blue_green.get_endpoint("e")
    assert blue_green.list_endpoints() == []
    green = endpoint("e", config("green", "m1", "m2"))
    blue_green.add_endpoint(green)
    assert blue_green.get_endpoint("e") == green  # no variant state of the old one is left


UNKNOWN_ENDPOINT_CALLS: dict[str, Callable[[Store], object]] = {
    "get": lambda s: s.get_endpoint("x"),
    "save_state": lambda s: s.save_endpoint_state(
        "x",
        status=EndpointStatus.IN_SERVICE,
        variants=(),
        failure_reason=None,
        last_modified_at=1.0,
    ),
    "set_pending": lambda s: s.set_pending_config("x", "green"),
    "clear_pending": lambda s: s.set_pending_config("x", None),
    "set_unknown_pending": lambda s: s.set_pending_config("x", "nope"),
    "promote": lambda s: s.promote_pending_config("x"),
    "fleets": lambda s: s.endpoint_fleets("x"),
    "delete": lambda s: s.delete_endpoint("x"),
}


@pytest.mark.parametrize("call", UNKNOWN_ENDPOINT_CALLS.values(), ids=UNKNOWN_ENDPOINT_CALLS)
def test_unknown_endpoint_raises_not_found(
    blue_green: Store, call: Callable[[Store], object]
) -> None:
    with pytest.raises(NotFound, match=r'^Could not find endpoint "x"\.$') as raised:
        call(blue_green)
    assert (raised.value.kind, raised.value.name) == ("endpoint", "x")
    assert blue_green.get_endpoint("e") == endpoint("e", config("blue", "m1"))


def test_endpoint_without_variant_states(blue_green: Store) -> None:
    empty = dataclasses.replace(endpoint("bare", config("blue", "m1")), variants=())
    blue_green.add_endpoint(empty)
    assert blue_green.get_endpoint("bare") == empty
