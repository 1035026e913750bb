"""The switch: an endpoint whose variants are other endpoints (ADR 0040).

A model is a *switch model* when its environment names a target endpoint in
`TURNOUT_ROUTE_TO`; a production variant serving it routes to that endpoint in process
instead of running instances. Its artifact, optional, holds `code/switch.py` (hooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout.domain.resources import Model

ROUTE_TO = "TURNOUT_ROUTE_TO"  # the model environment variable naming the target endpoint
SWITCH_FLAVOR = "switch"  # what Describe shows as the flavor of a switch model
SWITCH_CODE = "code/switch.py"  # in the switch model's artifact directory, optional


def route_to(environment: Mapping[str, str]) -> str | None:
    """The endpoint a switch model routes to, or None for an ordinary model."""
    target = environment.get(ROUTE_TO, "").strip()
    return target or None


@dataclass(frozen=True, slots=True)
class Switch:
    """What a switch variant's route needs: the target endpoint and where its hooks are."""

    endpoint: str
    artifact: str  # the switch model's artifact ("" when it has none: no hooks)


def switch_of(model: Model) -> Switch | None:
    """The switch a model declares, or None for an ordinary model."""
    target = route_to(model.environment)
    return None if target is None else Switch(target, model.artifact)
