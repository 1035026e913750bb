"""Drift monitoring's rows (turnout.store.drift) on SQLite and PostgreSQL."""

from __future__ import annotations

from turnout.store import Store
from turnout.store.drift import KEEP_REPORTS, DriftStore


def test_a_baseline_per_endpoint_replaced_and_deleted_with_its_reports(store: Store) -> None:
    rows = DriftStore(store)
    assert rows.baseline("e") is None
    rows.put_baseline("e", {"rows": 1, "features": []}, 100.0)
    rows.put_baseline("e", {"rows": 2, "features": []}, 101.0)  # replaces
    rows.put_baseline("f", {"rows": 3, "features": []}, 102.0)
    assert rows.baseline("e") == {"rows": 2, "features": []}
    assert sorted(rows.baselines()) == ["e", "f"]
    rows.add_report("e", "A", 110.0, {"rows": 5})
    rows.add_report("f", "A", 110.0, {"rows": 6})
    assert rows.delete_baseline("e") is True
    assert rows.delete_baseline("e") is False
    assert rows.reports("e") == [] and len(rows.reports("f")) == 1


def test_reports_since_oldest_first_and_bounded(store: Store) -> None:
    rows = DriftStore(store)
    for i in range(KEEP_REPORTS + 5):
        rows.add_report("e", "AB"[i % 2], float(i), {"i": i})
    rows.add_report("other", "A", 0.0, {"i": -1})
    kept = rows.reports("e")
    assert len(kept) == KEEP_REPORTS  # the oldest went
    assert [r.document["i"] for r in kept[:2]] == [5, 6]
    recent = rows.reports("e", since=KEEP_REPORTS + 3.0)
    assert [(r.variant, r.computed_at) for r in recent] == [
        ("B", KEEP_REPORTS + 3.0), ("A", KEEP_REPORTS + 4.0),
    ]  # fmt: skip
    assert [r.document for r in rows.reports("other")] == [{"i": -1}]
    newest = rows.latest("e")
    assert [(r.variant, r.document["i"]) for r in newest] == [
        ("A", KEEP_REPORTS + 4), ("B", KEEP_REPORTS + 3),
    ]  # fmt: skip
    assert rows.latest("nope") == []
