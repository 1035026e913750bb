"""Compare-and-set writes the service layer and the reconciler race with each other on."""

from __future__ import annotations

import pytest

from turnout.domain.resources import EndpointStatus, VariantState
from turnout.errors import Conflict, NotFound
from turnout.store import Store

from .builders import config, endpoint, model, states

S = EndpointStatus
BLUE = config("blue", "m1")
GREEN = config("green", "m1", "m2")


@pytest.fixture
def store_with_e(store: Store) -> Store:
    """Models m1, m2; configs blue and green; endpoint "e" on blue, Creating."""
    store.add_model(model("m1"))
    store.add_model(model("m2"))
    store.add_endpoint_config(BLUE)
    store.add_endpoint_config(GREEN)
    store.add_endpoint(endpoint("e", BLUE))
    return store


def _save(store: Store, status: S, expect: S | None, **flags: bool) -> bool:
    return store.save_endpoint_state(
        "e",
        status=status,
        variants=states(GREEN) if flags.get("promote_pending") else states(BLUE),
        failure_reason=None,
        last_modified_at=50.0,
        expect_status=expect,
        **flags,
    )


def test_save_with_the_expected_status_writes(store_with_e: Store) -> None:
    assert _save(store_with_e, S.IN_SERVICE, S.CREATING) is True
    assert store_with_e.get_endpoint("e").status is S.IN_SERVICE


def test_save_with_another_status_writes_nothing(store_with_e: Store) -> None:
    assert _save(store_with_e, S.IN_SERVICE, S.UPDATING) is False
    assert store_with_e.get_endpoint("e") == endpoint("e", BLUE)


def test_save_of_an_unknown_endpoint_raises_not_found(store_with_e: Store) -> None:
    with pytest.raises(NotFound, match=r'^Could not find endpoint "x"\.$'):
        store_with_e.save_endpoint_state(
            "x",
            status=S.IN_SERVICE,
            variants=(),
            failure_reason=None,
            last_modified_at=1.0,
            expect_status=S.CREATING,
        )


def test_begin_config_update_then_promote_on_success(store_with_e: Store) -> None:
    _save(store_with_e, S.IN_SERVICE, S.CREATING)
    assert store_with_e.begin_config_update(
        "e", "green", last_modified_at=60.0, expect_status=S.IN_SERVICE
    )
    got = store_with_e.get_endpoint("e")
    assert (got.status, got.config_name, got.pending_config_name) == (S.UPDATING, "blue", "green")
    assert (got.variants, got.last_modified_at) == (states(BLUE), 60.0)

    assert _save(store_with_e, S.IN_SERVICE, S.UPDATING, promote_pending=True)
    got = store_with_e.get_endpoint("e")
    assert (got.status, got.config_name, got.pending_config_name) == (S.IN_SERVICE, "green", None)
    assert got.variants == states(GREEN)
    current, pending = store_with_e.endpoint_fleets("e")
    assert (current.config, pending) == (GREEN, None)


def test_failed_update_clears_pending(store_with_e: Store) -> None:
    _save(store_with_e, S.IN_SERVICE, S.CREATING)
    store_with_e.begin_config_update("e", "green", last_modified_at=60.0)
    assert _save(store_with_e, S.IN_SERVICE, S.UPDATING, clear_pending=True)
    got = store_with_e.get_endpoint("e")
    assert (got.status, got.config_name, got.pending_config_name) == (S.IN_SERVICE, "blue", None)


def test_begin_config_update_with_another_status_writes_nothing(store_with_e: Store) -> None:
    assert not store_with_e.begin_config_update(
        "e", "green", last_modified_at=60.0, expect_status=S.IN_SERVICE
    )
    assert store_with_e.get_endpoint("e") == endpoint("e", BLUE)


def test_begin_config_update_not_found(store_with_e: Store) -> None:
    with pytest.raises(NotFound, match=r'^Could not find endpoint "x"\.$'):
        store_with_e.begin_config_update("x", "nope", last_modified_at=1.0)
    with pytest.raises(NotFound, match=r'^Could not find endpoint config "nope"\.$'):
        store_with_e.begin_config_update("e", "nope", last_modified_at=1.0)


def test_promote_without_pending(store_with_e: Store) -> None:
    """A status mismatch is a lost race (False); a missing pending config is a bug."""
    assert _save(store_with_e, S.IN_SERVICE, S.UPDATING, promote_pending=True) is False
    with pytest.raises(Conflict, match="no pending endpoint config"):
        _save(store_with_e, S.IN_SERVICE, S.CREATING, promote_pending=True)
    assert store_with_e.get_endpoint("e") == endpoint("e", BLUE)


def test_promote_and_clear_exclude_each_other(store_with_e: Store) -> None:
    with pytest.raises(ValueError, match="exclude"):
        _save(store_with_e, S.IN_SERVICE, None, promote_pending=True, clear_pending=True)


def test_save_without_expectation_always_writes(store_with_e: Store) -> None:
    variants = (VariantState("v0-m1", 2.0, 2),)
    assert store_with_e.save_endpoint_state(
        "e",
        status=S.DELETING,
        variants=variants,
        failure_reason="bye",
        last_modified_at=70.0,
    )
    got = store_with_e.get_endpoint("e")
    assert (got.status, got.variants, got.failure_reason) == (S.DELETING, variants, "bye")
