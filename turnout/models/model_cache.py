"""Which models a multi-model instance keeps loaded: least recently used first out, under a
memory budget (ADR 0037). Pure bookkeeping, no I/O: the instance measures a model's size
when it loads it and unloads what `add` says to evict.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    size: int  # bytes charged against the budget


class ModelCache:
    """Loaded models by name, least recently used first, and the bytes they are charged.

    The model just added always stays, even alone over the budget (a model larger than the
    budget is still served, one at a time), so `add` never evicts the model it adds.
    """

    def __init__(self, budget: int) -> None:
        if budget <= 0:
            raise ValueError("the model cache budget must be positive")
        self.budget = budget
        self._entries: OrderedDict[str, int] = OrderedDict()
        self.used = 0
        self.evictions = 0

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Least recently used first."""
        return list(self._entries)

    def touch(self, name: str) -> bool:
        """Mark `name` used now; False when it is not loaded."""
        if name not in self._entries:
            return False
        self._entries.move_to_end(name)
        return True

    def add(self, name: str, size: int) -> list[Entry]:
        """Record `name` loaded at `size` bytes; the entries to unload to fit the budget,
        least recently used first."""
        if size < 0:
            raise ValueError("a model's size cannot be negative")
        if name in self._entries:
            self.used -= self._entries.pop(name)
        self._entries[name] = size
        self.used += size
        evicted: list[Entry] = []
        while self.used > self.budget and len(self._entries) > 1:
            old, old_size = self._entries.popitem(last=False)
            self.used -= old_size
            evicted.append(Entry(old, old_size))
        self.evictions += len(evicted)
        return evicted

    def remove(self, name: str) -> Entry | None:
        size = self._entries.pop(name, None)
        if size is None:
            return None
        self.used -= size
        return Entry(name, size)
