"""Which instance serves a multi-model endpoint's TargetModel: rendezvous hashing (ADR 0037).

Every instance gets a score for the model, hash(model, instance); the ready instance with the
highest score serves it. So the same model lands on the same instance (which then has it
loaded), models spread evenly over the instances, and when an instance is out (starting,
restarting, ejected) or joins, only the models whose best instance it is move. Pure and
O(instances): no table to keep, nothing shared between routers (they all agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2b
from typing import Protocol, TypeVar


class Candidate(Protocol):
    @property
    def ready(self) -> bool: ...

    @property
    def affinity_key(self) -> bytes: ...


C = TypeVar("C", bound=Candidate)


def score(model: bytes, instance: bytes) -> int:
    """The instance's score for the model: stable across processes and runs."""
    digest = blake2b(instance + b"\0" + model, digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous(candidates: Sequence[C], model: bytes) -> C | None:
    """The ready candidate with the highest score for `model`, or None if none is ready."""
    best: C | None = None
    best_score = -1
    for c in candidates:
        if c.ready:
            s = score(model, c.affinity_key)
            if s > best_score:
                best, best_score = c, s
    return best
