"""What an experiment compares: variants against a control, on a primary metric and guardrails."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from turnout.errors import InvalidRequest

MAX_VARIANTS = 10
MAX_GUARDRAILS = 20
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62})$")


class MetricKind(StrEnum):
    """`binary`: a 0/1 outcome per user (conversion); `numeric`: any real value (latency)."""

    BINARY = "binary"
    NUMERIC = "numeric"


class Direction(StrEnum):
    """Which way a metric is better."""

    HIGHER = "higher"
    LOWER = "lower"


class Method(StrEnum):
    """How significance is judged.

    `sequential`: always-valid (mSPRT) p-values, safe to look at any time;
    `fixed_horizon`: z / Welch t, read once when every variant reaches the minimum sample;
    `bayesian`: chance to beat control above 1 - alpha, read at the minimum sample.
    """

    SEQUENTIAL = "sequential"
    FIXED_HORIZON = "fixed_horizon"
    BAYESIAN = "bayesian"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: MetricKind = MetricKind.BINARY
    direction: Direction = Direction.HIGHER


@dataclass(frozen=True)
class Experiment:
    """An experiment definition; construct it through `validated` to get one-line errors.

    `shares` are the expected traffic shares per variant (for the sample-ratio check);
    empty means an equal split. `minimum_sample` is per variant, in users.
    """

    name: str
    variants: tuple[str, ...]
    control: str
    primary: Metric
    guardrails: tuple[Metric, ...] = ()
    minimum_sample: int = 1000
    alpha: float = 0.05
    method: Method = Method.SEQUENTIAL
    shares: Mapping[str, float] = field(default_factory=dict)

    @property
    def treatments(self) -> tuple[str, ...]:
        return tuple(v for v in self.variants if v != self.control)

    def expected_shares(self) -> dict[str, float]:
        """Each variant's expected share of users, summing to 1."""
        if not self.shares:
            return {v: 1.0 / len(self.variants) for v in self.variants}
        total = sum(self.shares.values())
        return {v: self.shares[v] / total for v in self.variants}

    def validated(self) -> Experiment:
        """Return self, or raise InvalidRequest naming the first problem found."""
        _check_name("experiment", self.name)
        for v in self.variants:
            _check_name("variant", v)
        if not 2 <= len(self.variants) <= MAX_VARIANTS:
            raise InvalidRequest(f"An experiment needs 2 to {MAX_VARIANTS} variants.")
        if len(set(self.variants)) != len(self.variants):
            raise InvalidRequest("Each variant may appear only once in an experiment.")
        if self.control not in self.variants:
            raise InvalidRequest(f'The control "{self.control}" is not one of the variants.')
        metrics = (self.primary, *self.guardrails)
        for m in metrics:
            _check_name("metric", m.name)
        if len(self.guardrails) > MAX_GUARDRAILS:
            raise InvalidRequest(f"At most {MAX_GUARDRAILS} guardrail metrics are allowed.")
        if len({m.name for m in metrics}) != len(metrics):
            raise InvalidRequest("Metric names must differ (primary and guardrails).")
        if not 2 <= self.minimum_sample <= 10**9:
            raise InvalidRequest("minimum_sample must be between 2 and 1,000,000,000 users.")
        if not 0.0001 <= self.alpha <= 0.5:
            raise InvalidRequest("alpha must be between 0.0001 and 0.5 (0.05 is usual).")
        if self.shares:
            if set(self.shares) != set(self.variants):
                raise InvalidRequest("shares must name exactly the experiment's variants.")
            if any(not (math.isfinite(s) and s > 0) for s in self.shares.values()):
                raise InvalidRequest("Every expected share must be a positive number.")
        return self


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequest(
            f'Invalid {kind} name "{name}": use 1-63 letters, digits, "_", "." or "-",'
            " starting with a letter or digit."
        )
