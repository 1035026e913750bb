"""The rules a request must follow, as SageMaker states them. Pure: raise InvalidRequest.

Names follow `turnout.domain.names` (alarms check them too, in the domain).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from turnout.domain.names import check_name
from turnout.domain.resources import ProductionVariant
from turnout.errors import InvalidRequest

MAX_VARIANTS = 10
# One machine: more instances than this of one variant is almost surely a typo.
MAX_INSTANCES_PER_VARIANT = 64


def check_weight(variant: str, weight: float) -> None:
    if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
        raise InvalidRequest(f"Invalid weight {weight!r} for variant {variant}: use a number >= 0.")


def check_instance_count(variant: str, count: int, minimum: int = 1) -> None:
    if (
        not isinstance(count, int)
        or isinstance(count, bool)
        or not minimum <= count <= MAX_INSTANCES_PER_VARIANT
    ):
        raise InvalidRequest(
            f"Invalid instance count {count!r} for variant {variant}: use a whole number "
            f"from {minimum} to {MAX_INSTANCES_PER_VARIANT}."
        )


def check_total_weight(weights: Sequence[float]) -> None:
    if sum(weights) <= 0:
        raise InvalidRequest(
            "At least one variant must have a weight > 0, or no request could be routed."
        )


def non_unique_variant(name: str) -> InvalidRequest:
    """SageMaker's words for a variant named twice in one request."""
    return InvalidRequest(f'The variant name "{name}" was non-unique within the request.')


def check_variants(variants: Sequence[ProductionVariant]) -> None:
    """An endpoint config's production variants: 1 to 10, unique names, sane numbers."""
    if not 1 <= len(variants) <= MAX_VARIANTS:
        raise InvalidRequest(
            f"An endpoint config needs 1 to {MAX_VARIANTS} production variants; "
            f"got {len(variants)}."
        )
    seen: set[str] = set()
    for v in variants:
        check_name("variant", v.name)
        check_name("model", v.model_name)
        if v.name in seen:
            raise non_unique_variant(v.name)
        seen.add(v.name)
        check_weight(v.name, v.initial_weight)
        check_instance_count(v.name, v.initial_instance_count)
    check_total_weight([v.initial_weight for v in variants])


def check_shadow_variants(
    variants: Sequence[ProductionVariant], shadows: Sequence[ProductionVariant]
) -> None:
    """SageMaker's rules for ShadowProductionVariants: with any, exactly one production
    variant (the one mirrored) and one shadow; names unique across both; a weight > 0."""
    if not shadows:
        return
    if len(variants) != 1 or len(shadows) != 1:
        raise InvalidRequest(
            "An endpoint config with shadow variants needs exactly one production variant "
            f"and one shadow variant; got {len(variants)} and {len(shadows)}."
        )
    shadow = shadows[0]
    check_name("variant", shadow.name)
    check_name("model", shadow.model_name)
    if shadow.name == variants[0].name:
        raise non_unique_variant(shadow.name)
    check_weight(shadow.name, shadow.initial_weight)
    if shadow.initial_weight <= 0:
        raise InvalidRequest(
            f"Shadow variant {shadow.name} needs a weight > 0: its weight over the production "
            "variant's is the share of requests it receives a copy of."
        )
    check_instance_count(shadow.name, shadow.initial_instance_count)
