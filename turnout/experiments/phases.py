"""Experiment phases: a change of the weights or of the assignment starts a new one. Pure.

Sticky assignment moves users when weights change (into the variant that grows), and a new
salt or targeting rule moves them too: users counted in one variant may be served another
afterwards, and the split the sample-ratio check expects is no longer the one that holds.
So an experiment is analysed over its *current phase* only: the users first exposed since
the last change of the experiment's variants' weights or of the endpoint's assignment
(salt, targeting rules), against that phase's weights; the sequential state starts afresh
with each phase (ADR 0026).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_SAME = 1e-9  # shares closer than this are the same weights


@dataclass(frozen=True)
class Phase:
    number: int  # 1, 2, ...
    start: float  # users first exposed from this time on are counted
    shares: Mapping[str, float]  # each experiment variant's share of their weights
    assignment: str  # fingerprint of the salt and targeting rules in force

    def document(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "start": self.start,
            "shares": dict(self.shares),
            "assignment": self.assignment,
        }

    @classmethod
    def of_document(cls, document: Mapping[str, Any] | None) -> Phase | None:
        if not document:
            return None
        return cls(
            int(document["number"]),
            float(document["start"]),
            {k: float(v) for k, v in document["shares"].items()},
            str(document["assignment"]),
        )

    def same_as(self, shares: Mapping[str, float], assignment: str) -> bool:
        return (
            assignment == self.assignment
            and set(shares) == set(self.shares)
            and all(abs(shares[v] - self.shares[v]) <= _SAME for v in shares)
        )


def shares_of(variants: Sequence[str], weights: Mapping[str, float]) -> dict[str, float]:
    """The experiment variants' shares of their weights (equal when all are 0 or unknown)."""
    found = [max(0.0, float(weights.get(v, 0.0))) for v in variants]
    total = sum(found)
    if not variants:
        return {}
    if total <= 0 or not math.isfinite(total):
        return {v: 1.0 / len(variants) for v in variants}
    return {v: w / total for v, w in zip(variants, found, strict=True)}


def fingerprint(salt: str, rules: Any) -> str:
    """What the assignment depends on besides the weights, hashed for comparison."""
    text = json.dumps({"salt": salt, "rules": rules}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def current_phase(
    previous: Phase | None,
    shares: Mapping[str, float],
    assignment: str,
    *,
    created_at: float,
    changed_at: float,
) -> Phase:
    """The phase in force: `previous` if nothing changed, else the next one, starting at
    `changed_at` (when the endpoint or its routing last changed; never before the previous
    phase's start). The first phase starts with the experiment."""
    if previous is None:
        return Phase(1, created_at, dict(shares), assignment)
    if previous.same_as(shares, assignment):
        return previous
    return Phase(previous.number + 1, max(changed_at, previous.start), dict(shares), assignment)
