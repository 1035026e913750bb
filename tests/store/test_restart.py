"""After a restart every endpoint comes back: a reopened store holds everything."""

from __future__ import annotations

from turnout.domain.resources import EndpointStatus, VariantState
from turnout.store import Store

from .builders import config, endpoint, model


def test_reopening_keeps_everything(db_url: str) -> None:
    store = Store.open(db_url)
    store.add_model(model("m1"))
    store.add_model(model("m2"))
    store.add_model(model("gone"))
    store.delete_model("gone")
    store.add_endpoint_config(config("blue", "m1"))
    store.add_endpoint_config(config("green", "m1", "m2"))
    store.add_endpoint(endpoint("e", config("blue", "m1")))
    store.save_endpoint_state(
        "e",
        status=EndpointStatus.UPDATING,
        variants=(VariantState("v0-m1", 1.0, 1, current_weight=1.0, current_instance_count=1),),
        failure_reason=None,
        last_modified_at=42.0,
    )
    store.set_pending_config("e", "green")
    # The endpoint's models and configs were deleted while it served.
    store.delete_endpoint_config("blue")
    store.delete_model("m1")
    before = (
        store.list_models(),
        store.list_endpoint_configs(),
        store.list_endpoints(),
        store.endpoint_fleets("e"),
    )
    store.close()

    reopened = Store.open(db_url)
    try:
        after = (
            reopened.list_models(),
            reopened.list_endpoint_configs(),
            reopened.list_endpoints(),
            reopened.endpoint_fleets("e"),
        )
        assert after == before
        current, pending = after[3]
        assert current.models["v0-m1"] == model("m1")
        assert pending is not None and pending.config.name == "green"
    finally:
        reopened.close()
