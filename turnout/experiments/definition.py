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
    """`binary`: converted or not (any event > 0); `numeric`: a number per user (revenue,
    latency); `ratio`: ΣX / ΣY over users of two feedback metrics (revenue per order)."""

    BINARY = "binary"
    NUMERIC = "numeric"
    RATIO = "ratio"


class Direction(StrEnum):
    """Which way a metric is better."""

    HIGHER = "higher"
    LOWER = "lower"


class Over(StrEnum):
    """Which users a numeric metric averages over.

    `exposed` (default): every user the experiment counts, those without an event as 0 —
    the only choice that compares like with like when the treatment changes who sends an
    event; `users_with_events`: only users with at least one event (a conditional mean,
    e.g. basket size among buyers; labelled as such in the report).
    """

    EXPOSED = "exposed"
    USERS_WITH_EVENTS = "users_with_events"


class PerUser(StrEnum):
    """How a user's events of a numeric metric make their value: `mean` or `sum`."""

    MEAN = "mean"
    SUM = "sum"


class Method(StrEnum):
    """How significance is judged.

    `sequential`: always-valid (mSPRT) p-values, safe to look at any time;
    `fixed_horizon`: z / Welch t, read once when every variant reaches the minimum sample;
    `bayesian`: chance to beat control above 1 - alpha, read at the minimum sample.
    """

    SEQUENTIAL = "sequential"
    FIXED_HORIZON = "fixed_horizon"
    BAYESIAN = "bayesian"


MAX_WINDOW = 366 * 24 * 3600.0  # a conversion window's longest, in seconds
MAX_CAP = 1e15  # as feedback values (turnout.experiments.service.MAX_VALUE)


@dataclass(frozen=True)
class Cap:
    """Winsorization of per-user values from above: at a fixed `value`, or at a
    `percentile` (0.5 to 0.9999) of the per-user values of users with an event, pooled
    over the variants and computed at each report."""

    value: float | None = None
    percentile: float | None = None

    def to_document(self) -> dict[str, float]:
        if self.value is not None:
            return {"value": self.value}
        assert self.percentile is not None
        return {"percentile": self.percentile}

    @classmethod
    def from_document(cls, document: Any, where: str) -> Cap:
        fields = _fields(document, f"{where}'s cap", required=set(),
                         allowed={"value", "percentile"})  # fmt: skip
        if len(fields) != 1:
            raise InvalidRequest(
                f'The {where}\'s cap takes one of "value" (e.g. 1000) or "percentile" (e.g. 0.99).'
            )
        (key, number), *_ = fields.items()
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidRequest(f'The {where}\'s cap "{key}" must be a number.')
        return cls(**{key: float(number)})

    def validated(self, where: str) -> Cap:
        if (self.value is None) == (self.percentile is None):
            raise InvalidRequest(f"The {where}'s cap takes one of a value and a percentile.")
        if self.value is not None and not (math.isfinite(self.value) and
                                           abs(self.value) <= MAX_CAP):  # fmt: skip
            raise InvalidRequest(f"The {where}'s cap value must be a number up to {MAX_CAP:g}.")
        if self.percentile is not None and not 0.5 <= self.percentile <= 0.9999:
            raise InvalidRequest(
                f"The {where}'s cap percentile must be between 0.5 and 0.9999 (0.99 is usual)."
            )
        return self

    def describe(self) -> str:
        if self.value is not None:
            return f"per-user values capped at {self.value:g}"
        assert self.percentile is not None
        return f"per-user values capped at their {self.percentile * 100:g}th percentile"


@dataclass(frozen=True)
class Metric:
    """A metric the experiment compares, named as its feedback events are (a ratio metric
    names itself and its two feedback metrics: `numerator` / `denominator`).

    `window`: seconds from the user's first exposure in which events count (None: until
    the experiment stops). `over`, `per_user` and `cap` apply to numeric metrics only.
    """

    name: str
    kind: MetricKind = MetricKind.BINARY
    direction: Direction = Direction.HIGHER
    over: Over = Over.EXPOSED
    per_user: PerUser = PerUser.MEAN
    window: float | None = None
    cap: Cap | None = None
    numerator: str | None = None
    denominator: str | None = None
    # CUPED: a feedback metric holding a pre-experiment value per user (e.g. last month's
    # spend); the metric is compared adjusted for it (binary or numeric over exposed users).
    covariate: str | None = None

    @property
    def events(self) -> tuple[str, ...]:
        """The feedback metrics it reads."""
        if self.kind is MetricKind.RATIO:
            assert self.numerator is not None and self.denominator is not None
            return (self.numerator, self.denominator)
        return (self.name,)

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name, "kind": self.kind.value, "direction": self.direction.value,
            "window": self.window,
        }  # fmt: skip
        if self.kind is MetricKind.NUMERIC:
            document["over"] = self.over.value
            document["per_user"] = self.per_user.value
            document["cap"] = self.cap.to_document() if self.cap else None
        if self.kind is MetricKind.RATIO:
            document["numerator"] = self.numerator
            document["denominator"] = self.denominator
        if self.covariate is not None:
            document["covariate"] = self.covariate
        return document

    @classmethod
    def from_document(cls, document: Any, where: str) -> Metric:
        fields = _fields(
            document, where, required={"name"},
            allowed={"kind", "direction", "over", "per_user", "window", "cap", "numerator",
                     "denominator", "covariate"},
        )  # fmt: skip
        kind = _choice(MetricKind, fields.get("kind", MetricKind.BINARY.value), where, "kind")
        for key in ("over", "per_user", "cap", "numerator", "denominator"):
            needs = MetricKind.RATIO if key in ("numerator", "denominator") else MetricKind.NUMERIC
            if fields.get(key) is not None and kind is not needs:
                raise InvalidRequest(f'The {where}\'s "{key}" applies to {needs} metrics only.')
        window = fields.get("window")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int | float)):
            raise InvalidRequest(f'The {where}\'s "window" must be a number of seconds.')
        cap = fields.get("cap")
        for key in ("numerator", "denominator", "covariate"):
            if fields.get(key) is not None and not isinstance(fields[key], str):
                raise InvalidRequest(f'The {where}\'s "{key}" must be a metric name.')
        return cls(
            name=_typed(fields, "name", str, where),
            kind=kind,
            direction=_choice(
                Direction, fields.get("direction", Direction.HIGHER.value), where, "direction"
            ),
            over=_choice(Over, fields.get("over") or Over.EXPOSED.value, where, "over"),
            per_user=_choice(
                PerUser, fields.get("per_user") or PerUser.MEAN.value, where, "per_user"
            ),
            window=None if window is None else float(window),
            cap=None if cap is None else Cap.from_document(cap, where),
            numerator=fields.get("numerator"),
            denominator=fields.get("denominator"),
            covariate=fields.get("covariate"),
        ).validated(where)

    def validated(self, where: str = "metric") -> Metric:
        """Return self, or raise InvalidRequest naming the first problem found."""
        _check_name("metric", self.name)
        if self.window is not None and not (
            math.isfinite(self.window) and 1 <= self.window <= MAX_WINDOW
        ):
            raise InvalidRequest(
                f"The {where}'s window must be 1 second to 366 days (in seconds), or null."
            )
        if self.kind is not MetricKind.NUMERIC and (
            self.over is not Over.EXPOSED or self.per_user is not PerUser.MEAN or self.cap
        ):
            raise InvalidRequest(
                f"The {where}'s over, per_user and cap apply to numeric metrics only."
            )
        if self.cap is not None:
            self.cap.validated(where)
        if self.kind is MetricKind.RATIO:
            if self.numerator is None or self.denominator is None:
                raise InvalidRequest(
                    f'The {where} is a ratio: give "numerator" and "denominator", the '
                    "feedback metrics it divides (e.g. revenue and orders)."
                )
            _check_name("metric", self.numerator)
            _check_name("metric", self.denominator)
            if self.numerator == self.denominator:
                raise InvalidRequest(f"The {where}'s numerator and denominator must differ.")
        elif self.numerator is not None or self.denominator is not None:
            raise InvalidRequest(f"The {where}'s numerator and denominator apply to ratios only.")
        if self.covariate is not None:
            _check_name("metric", self.covariate)
            if self.kind is MetricKind.RATIO or self.over is not Over.EXPOSED:
                raise InvalidRequest(
                    f"The {where}'s covariate (CUPED) applies to binary metrics and to "
                    "numeric ones over all exposed users."
                )
            if self.covariate == self.name:
                raise InvalidRequest(
                    f"The {where}'s covariate must be another feedback metric: a value "
                    "known before the experiment (e.g. last month's spend)."
                )
        return self

    def describe(self) -> dict[str, Any]:
        """The assumptions behind its numbers, in words (for the report)."""
        if self.kind is MetricKind.BINARY:
            users = "all exposed users (1 if any event > 0 else 0)"
            value = "converted"
        elif self.kind is MetricKind.RATIO:
            users = "all exposed users (no event: 0 in both sums)"
            value = f"sum of {self.numerator} / sum of {self.denominator} (delta method)"
        else:
            users = (
                "all exposed users (no event: 0)"
                if self.over is Over.EXPOSED
                else "only users with an event"
            )
            value = f"{self.per_user.value} of the user's events"
        window = (
            f"events within {self.window:g} s of the user's first exposure"
            if self.window is not None
            else "events from the user's first exposure until the experiment stops"
        )
        return {
            "metric": self.name,
            "kind": self.kind.value,
            "users": users,
            "per_user": value,
            "window": window,
            "cap": self.cap.describe() if self.cap else None,
            "covariate": None
            if self.covariate is None
            else f"CUPED-adjusted for {self.covariate} (the mean of its events; 0 without)",
        }


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
        for i, m in enumerate(metrics):
            m.validated("primary metric" if i == 0 else f"guardrail {i}")
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
