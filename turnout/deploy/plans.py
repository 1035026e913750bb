"""Pure arithmetic of endpoint changes: new variant states, which instances to add or drop."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from turnout.deploy.validation import (
    check_instance_count,
    check_total_weight,
    check_weight,
    non_unique_variant,
)
from turnout.domain.resources import EndpointConfig, VariantState
from turnout.errors import InvalidRequest


@dataclass(frozen=True)
class DesiredVariant:
    """One entry of an UpdateEndpointWeightsAndCapacities request (None: leave as is)."""

    name: str
    weight: float | None = None
    instance_count: int | None = None


def initial_states(config: EndpointConfig) -> tuple[VariantState, ...]:
    """What a new endpoint (or a freshly switched config) asks of each variant."""
    return tuple(
        VariantState(
            name=v.name,
            desired_weight=v.initial_weight,
            desired_instance_count=v.initial_instance_count,
        )
        for v in config.variants
    )


def serving_states(states: Iterable[VariantState]) -> tuple[VariantState, ...]:
    """The states once the desired values serve: current = desired."""
    return tuple(
        replace(s, current_weight=s.desired_weight, current_instance_count=s.desired_instance_count)
        for s in states
    )


def apply_desired(
    config: str, states: Sequence[VariantState], changes: Sequence[DesiredVariant]
) -> tuple[VariantState, ...]:
    """New variant states for a weights/capacities update of an endpoint whose endpoint
    config is `config`; raises InvalidRequest (in SageMaker's words where known) if bad."""
    if not changes:
        raise InvalidRequest("Give at least one variant to update.")
    by_name = {s.name: s for s in states}
    names = [c.name for c in changes]
    duplicate = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if duplicate is not None:
        raise non_unique_variant(duplicate)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InvalidRequest(
            f'The variant name(s) "{", ".join(unknown)}" is/are not present within endpoint '
            f'configuration "{config}".'
        )
    updated = dict(by_name)
    for change in changes:
        state = updated[change.name]
        if change.weight is None and change.instance_count is None:
            raise InvalidRequest(
                f"Give a weight or an instance count (or both) for variant {change.name}."
            )
        if change.weight is not None:
            check_weight(change.name, change.weight)
            state = replace(state, desired_weight=float(change.weight))
        if change.instance_count is not None:
            check_instance_count(change.name, change.instance_count)
            state = replace(state, desired_instance_count=change.instance_count)
        updated[change.name] = state
    result = tuple(updated[s.name] for s in states)
    check_total_weight([s.desired_weight for s in result])
    return result


def scale_plan(running: Iterable[int], desired: int) -> tuple[list[int], list[int]]:
    """Instance indexes (1-based) to start and to stop so that `desired` run.

    New instances fill the lowest free indexes; surplus ones go highest index first, so a
    scale-down keeps the longest-lived instances.
    """
    have = sorted(set(running))
    if len(have) > desired:
        return [], have[desired:]
    start: list[int] = []
    candidate = 1
    taken = set(have)
    while len(have) + len(start) < desired:
        if candidate not in taken:
            start.append(candidate)
        candidate += 1
    return start, []


def weights_of(states: Iterable[VariantState], *, current: bool) -> Mapping[str, float]:
    """Weights to route by: the current ones (falling back to desired before first serve)."""
    return {
        s.name: (s.current_weight if current and s.current_weight is not None else s.desired_weight)
        for s in states
    }
