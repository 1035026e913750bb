from __future__ import annotations

import dataclasses

import pytest

from turnout.domain.resources import ServerlessConfig
from turnout.errors import InvalidRequest, NotFound
from turnout.store import Store

from .builders import config, endpoint, model


@pytest.fixture
def resources(store: Store) -> Store:
    store.add_model(model("m"))
    store.add_endpoint_config(config("c", "m"))
    store.add_endpoint(endpoint("e", config("c", "m")))
    return store


@pytest.mark.parametrize(
    ("kind", "name"), [("model", "m"), ("endpoint config", "c"), ("endpoint", "e")]
)
def test_tags_keep_their_order_and_update_in_place(resources: Store, kind: str, name: str) -> None:
    resources.add_tags(kind, name, [("team", "ml"), ("stage", "dev")])
    resources.add_tags(kind, name, [("stage", "prod"), ("owner", "ana ✓")])
    assert resources.list_tags(kind, name) == [
        ("team", "ml"),
        ("stage", "prod"),
        ("owner", "ana ✓"),
    ]
    resources.delete_tags(kind, name, ["team", "absent"])
    assert resources.list_tags(kind, name) == [("stage", "prod"), ("owner", "ana ✓")]


def test_tags_of_an_unknown_resource_raise_not_found(resources: Store) -> None:
    with pytest.raises(NotFound, match="endpoint config"):
        resources.add_tags("endpoint config", "nope", [("a", "b")])
    with pytest.raises(NotFound):
        resources.list_tags("model", "nope")
    with pytest.raises(NotFound):
        resources.delete_tags("endpoint", "nope", ["a"])


def test_the_limit_refuses_the_whole_request(resources: Store) -> None:
    resources.add_tags("model", "m", [(f"k{i}", "v") for i in range(3)], limit=4)
    with pytest.raises(InvalidRequest, match="would have 5 tags"):
        resources.add_tags("model", "m", [("k0", "new"), ("x", "1"), ("y", "2")], limit=4)
    assert resources.list_tags("model", "m") == [("k0", "v"), ("k1", "v"), ("k2", "v")]


def test_deleting_a_resource_deletes_its_tags(resources: Store) -> None:
    for kind, name in (("model", "m"), ("endpoint config", "c"), ("endpoint", "e")):
        resources.add_tags(kind, name, [("a", "1")])
    resources.delete_endpoint("e")
    resources.delete_endpoint_config("c")
    resources.delete_model("m")
    resources.add_model(model("m"))
    resources.add_endpoint_config(config("c", "m"))
    resources.add_endpoint(endpoint("e", config("c", "m")))
    for kind, name in (("model", "m"), ("endpoint config", "c"), ("endpoint", "e")):
        assert resources.list_tags(kind, name) == []


def test_serverless_config_round_trips(store: Store) -> None:
    store.add_model(model("m"))
    base = config("c", "m", "m")
    serverless = (
        dataclasses.replace(base.variants[0], serverless=ServerlessConfig(2048, 5, 1)),
        dataclasses.replace(base.variants[1], serverless=ServerlessConfig(1024, 20)),
    )
    store.add_endpoint_config(dataclasses.replace(base, variants=serverless))
    assert store.get_endpoint_config("c").variants == serverless
