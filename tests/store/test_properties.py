"""Round-trips of odd-but-valid values: any text PostgreSQL can hold, up to ten variants."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.domain.resources import EndpointConfig, Model, ProductionVariant
from turnout.models import registry
from turnout.store import Store

# Any Unicode scalar but NUL, which PostgreSQL text cannot hold (nor can names or env vars).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
NAMES = TEXT.filter(bool)
TIMES = st.floats(allow_nan=False, allow_infinity=False)
COUNTS = st.integers(min_value=0, max_value=2**31 - 1)  # 32-bit INTEGER columns

MODELS = st.builds(
    Model,
    name=NAMES,
    artifact=TEXT,
    flavor=st.sampled_from(registry.names()),
    command=st.none() | st.lists(TEXT, max_size=5).map(tuple),
    environment=st.dictionaries(TEXT, TEXT, max_size=8),
    image=st.none() | TEXT,
    execution_role_arn=st.none() | TEXT,
    created_at=TIMES,
)

# The store test fixture is one database shared by all examples: each example cleans up.
EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@EXAMPLES
@given(MODELS)
def test_model_round_trip(store: Store, registered: Model) -> None:
    store.add_model(registered)
    try:
        assert store.get_model(registered.name) == registered
        assert store.list_models() == [registered]
    finally:
        store.delete_model(registered.name)


@st.composite
def configs(draw: st.DrawFn) -> tuple[list[Model], EndpointConfig]:
    models = draw(st.lists(MODELS, min_size=1, max_size=3, unique_by=lambda m: m.name))
    variants = draw(
        st.lists(
            st.builds(
                ProductionVariant,
                name=NAMES,
                model_name=st.sampled_from([m.name for m in models]),
                initial_instance_count=COUNTS,
                initial_weight=st.floats(min_value=0, allow_infinity=False),
                instance_type=st.none() | TEXT,
            ),
            min_size=1,
            max_size=10,
            unique_by=lambda v: v.name,
        )
    )
    return models, EndpointConfig(
        name=draw(NAMES), variants=tuple(variants), created_at=draw(TIMES)
    )


@EXAMPLES
@given(configs())
def test_endpoint_config_round_trip(
    store: Store, models_and_config: tuple[list[Model], EndpointConfig]
) -> None:
    models, created = models_and_config
    for registered in models:
        store.add_model(registered)
    try:
        store.add_endpoint_config(created)
        try:
            assert store.get_endpoint_config(created.name) == created
            assert store.list_endpoint_configs() == [created]
        finally:
            store.delete_endpoint_config(created.name)
    finally:
        for registered in models:
            store.delete_model(registered.name)
