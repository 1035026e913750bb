"""What an experiment compares: variants against a control, on a primary metric and guardrails."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

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

    def to_document(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind.value, "direction": self.direction.value}

    @classmethod
    def from_document(cls, document: Any, where: str) -> Metric:
        fields = _fields(document, where, required={"name"}, allowed={"kind", "direction"})
        return cls(
            name=_typed(fields, "name", str, where),
            kind=_choice(MetricKind, fields.get("kind", MetricKind.BINARY.value), where, "kind"),
            direction=_choice(
                Direction, fields.get("direction", Direction.HIGHER.value), where, "direction"
            ),
        )


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

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variants": list(self.variants),
            "control": self.control,
            "primary": self.primary.to_document(),
            "guardrails": [g.to_document() for g in self.guardrails],
            "minimum_sample": self.minimum_sample,
            "alpha": self.alpha,
            "method": self.method.value,
            "shares": dict(self.shares),
        }

    @classmethod
    def from_document(cls, document: Any) -> Experiment:
        """Parse a JSON document (as `to_document` writes it) and validate it."""
        where = "experiment"
        fields = _fields(
            document,
            where,
            required={"name", "variants", "control", "primary"},
            allowed={"guardrails", "minimum_sample", "alpha", "method", "shares"},
        )
        variants = _typed(fields, "variants", list, where)
        guardrails = fields.get("guardrails", [])
        if not isinstance(guardrails, list):
            raise InvalidRequest('"guardrails" must be a list of metric objects.')
        shares = fields.get("shares", {})
        if not isinstance(shares, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in shares.values()
        ):
            raise InvalidRequest('"shares" must map variant names to numbers.')
        alpha = fields.get("alpha", 0.05)
        if isinstance(alpha, bool) or not isinstance(alpha, int | float):
            raise InvalidRequest('"alpha" must be a number.')
        minimum = fields.get("minimum_sample", 1000)
        if isinstance(minimum, bool) or not isinstance(minimum, int):
            raise InvalidRequest('"minimum_sample" must be a whole number.')
        return cls(
            name=_typed(fields, "name", str, where),
            variants=tuple(variants),
            control=_typed(fields, "control", str, where),
            primary=Metric.from_document(fields["primary"], "primary metric"),
            guardrails=tuple(
                Metric.from_document(g, f"guardrail {i}") for i, g in enumerate(guardrails, 1)
            ),
            minimum_sample=minimum,
            alpha=float(alpha),
            method=_choice(Method, fields.get("method", Method.SEQUENTIAL.value), where, "method"),
            shares={str(k): float(v) for k, v in shares.items()},
        ).validated()

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


E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


def _fields(document: Any, where: str, required: set[str], allowed: set[str]) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidRequest(f"The {where} must be a JSON object.")
    missing = sorted(required - set(document))
    if missing:
        raise InvalidRequest(f'The {where} lacks "{missing[0]}".')
    extra = sorted(set(document) - required - allowed)
    if extra:
        raise InvalidRequest(f'The {where} has an unknown field "{extra[0]}".')
    return document


def _typed(fields: dict[str, Any], key: str, kind: type[T], where: str) -> T:
    value = fields[key]
    if not isinstance(value, kind):
        raise InvalidRequest(f'The {where}\'s "{key}" must be a {kind.__name__}.')
    return value


def _choice(enum: type[E], value: Any, where: str, key: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidRequest(f'The {where}\'s "{key}" must be one of: {allowed}.') from None
