"""The shadow side of the store: one transaction per method, like `turnout.store`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from turnout.store import Store
from turnout.store import shadow as rows
from turnout.store.shadow import TallyRow


class ShadowStore:
    def __init__(self, store: Store) -> None:
        self._db = store.database

    def add_tallies(self, node: str, batch: Sequence[TallyRow]) -> None:
        with self._db.write() as conn:
            rows.add_tallies(conn, node, batch)

    def tallies(self, endpoint: str, since: float, until: float | None) -> list[TallyRow]:
        with self._db.read() as conn:
            return rows.tallies(conn, endpoint, since, until)

    def delete_tallies_before(self, cutoff: float) -> int:
        with self._db.write() as conn:
            return rows.delete_tallies_before(conn, cutoff)

    def add_experiment(
        self, name: str, endpoint: str, status: str, at: float, document: dict[str, Any]
    ) -> None:
        with self._db.write() as conn:
            rows.add_experiment(conn, name, endpoint, status, at, document)

    def save_experiment(self, name: str, status: str, at: float, document: dict[str, Any]) -> None:
        with self._db.write() as conn:
            rows.save_experiment(conn, name, status, at, document)

    def experiment(self, name: str) -> dict[str, Any]:
        with self._db.read() as conn:
            return rows.experiment(conn, name)

    def experiments(self, excluding: Sequence[str] = ()) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            return rows.experiments(conn, excluding)
