"""Small values to store, with every field set to something other than its default."""

from __future__ import annotations

import dataclasses
from typing import Any

from turnout.domain.resources import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    ProductionVariant,
    VariantState,
)


def model(name: str = "m", **changes: Any) -> Model:
    base = Model(
        name=name,
        artifact=f"/models/{name}",
        flavor="command",
        command=("python", "serve.py", "--port=$PORT"),
        environment={"THREADS": "2", "GREETING": "héllo wörld ✓"},
        image="registry.local/serve:1",
        execution_role_arn="arn:aws:iam::123456789012:role/x",
        created_at=1_700_000_000.25,
    )
    return dataclasses.replace(base, **changes)


def config(
    name: str = "c", *model_names: str, created_at: float = 1_700_000_100.5
) -> EndpointConfig:
    """A config with one variant per model name (default: one variant of model "m")."""
    variants = tuple(
        ProductionVariant(
            name=f"v{i}-{model_name}",
            model_name=model_name,
            initial_instance_count=i + 1,
            initial_weight=0.25 * (i + 1),
            instance_type="ml.m5.large" if i % 2 else None,
        )
        for i, model_name in enumerate(model_names or ("m",))
    )
    return EndpointConfig(name=name, variants=variants, created_at=created_at)


def states(config: EndpointConfig) -> tuple[VariantState, ...]:
    return tuple(
        VariantState(
            name=variant.name,
            desired_weight=variant.initial_weight,
            desired_instance_count=variant.initial_instance_count,
        )
        for variant in config.variants
    )


def endpoint(
    name: str, config: EndpointConfig, *, created_at: float = 1_700_000_200.75
) -> Endpoint:
    return Endpoint(
        name=name,
        config_name=config.name,
        status=EndpointStatus.CREATING,
        variants=states(config),
        created_at=created_at,
        last_modified_at=created_at,
    )
