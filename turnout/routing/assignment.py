"""Sticky assignment: a user's variant as a pure function of (salt, user key, allocation).

Weighted rendezvous hashing (ADR 0008). Each variant draws its own uniform u_v from a stable
hash of (salt, variant, key) and scores -ln(u_v) / w_v, an Exp(w_v) race; the lowest score
wins, so variant v is chosen with probability w_v / sum(w). A variant's score depends only
on its own weight, hence:

- growing w_v lowers only v's scores: users move into v, never out of it, never elsewhere;
- shrinking w_v raises only v's scores: users move out of v only, each to the variant that
  was second for them, so just the users that must move do.

No history and no store: every router process computes the same answer from the same
inputs (blake2b, never Python's salted `hash()`). Cost is one hash and one log per variant
with a positive weight; endpoints have at most 10 variants.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

# 53 bits: all a float can hold exactly; (k + 0.5) / 2**53 lies strictly inside (0, 1).
_MANTISSA_BITS = 53
_SCALE = 2.0**-_MANTISSA_BITS
_SHIFT = 64 - _MANTISSA_BITS


def _encode(text: str) -> bytes:
    # UTF-8, letting lone surrogates through: a key decoded with surrogateescape must not fail.
    return text.encode("utf-8", "surrogatepass")


def _length_prefixed(text: str) -> bytes:
    data = _encode(text)
    return len(data).to_bytes(4, "big") + data


def _prefix(salt: str, variant: str) -> hashlib.blake2b:
    # Length prefixes keep ("a|b", "c") and ("a", "b|c") apart.
    h = hashlib.blake2b(digest_size=8, person=b"turnout-assign")
    h.update(_length_prefixed(salt))
    h.update(_length_prefixed(variant))
    return h


def _uniform(prefix: hashlib.blake2b, key: bytes) -> float:
    h = prefix.copy()
    h.update(key)
    k = int.from_bytes(h.digest(), "big") >> _SHIFT
    return (k + 0.5) * _SCALE


def unit_draw(salt: str, variant: str, key: str) -> float:
    """The stable uniform draw in (0, 1) of `key` for `variant` under `salt`."""
    return _uniform(_prefix(salt, variant), _encode(key))


class StickyAssignment:
    """An allocation compiled for one salt: `assign(key)` is what the router calls.

    Build it once per routing-table snapshot; it holds no per-user state.
    """

    __slots__ = ("_entries", "_salt")

    def __init__(self, salt: str, allocation: Mapping[str, float]) -> None:
        if any(not (w >= 0 and math.isfinite(w)) for w in allocation.values()):
            raise ValueError("allocation weights must be finite and not negative")
        top = max(allocation.values(), default=0.0)
        if not top > 0:
            raise ValueError("at least one variant needs a positive weight")
        # Scaled so the largest weight is 1, which keeps the largest one's scores finite; a
        # weight under 1e-308 of the largest scales to 0 and gets nobody, as it should.
        scaled = ((name, w / top) for name, w in allocation.items())
        entries = [(name, _prefix(salt, name), w) for name, w in scaled if w > 0]
        # Sorted so the result never depends on the mapping's order (ties are ~2**-53).
        entries.sort(key=lambda e: e[0])
        self._entries = tuple(entries)
        self._salt = salt

    @property
    def salt(self) -> str:
        return self._salt

    def assign(self, key: str) -> str:
        """The variant of the user with assignment key `key`."""
        data = _encode(key)
        best_name = self._entries[0][0]
        best_score = math.inf
        log = math.log
        # _uniform inlined: this loop is the router's per-request cost.
        for name, prefix, weight in self._entries:
            h = prefix.copy()
            h.update(data)
            u = ((int.from_bytes(h.digest(), "big") >> _SHIFT) + 0.5) * _SCALE
            score = -log(u) / weight
            if score < best_score:
                best_name, best_score = name, score
        return best_name


def assign(salt: str, key: str, allocation: Mapping[str, float]) -> str:
    """The variant of `key` under `allocation` (weights need not sum to anything)."""
    return StickyAssignment(salt, allocation).assign(key)
