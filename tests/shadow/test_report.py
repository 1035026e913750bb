"""Tallies of answer pairs and the report over a window: counts, rates, quantiles."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import numpy as np
import pytest

from turnout.routing.shadow import Answer, Pair
from turnout.shadow.agreement import Tolerance
from turnout.shadow.report import StoredTally, report
from turnout.shadow.tally import MAX_EXAMPLES, Tally


def _pair(label: int, shadow_label: int, status: int = 200, at: float = 100.0) -> Pair:
    return Pair(
        "e", "cfg", "main", "cand", b"[1, 2]",
        Answer(200, json.dumps([label]).encode(), b"application/json", 1000.0),
        Answer(status, json.dumps([shadow_label]).encode(), None, 5000.0),
        at,
    )  # fmt: skip


def test_a_tally_counts_agreement_errors_and_keeps_a_few_examples() -> None:
    tally = Tally()
    for i in range(100):
        wrong = i % 10 == 0
        tally.add(_pair(i % 10, (i % 10) + wrong), Tolerance())
    tally.add(_pair(1, 1, status=500), Tolerance())
    assert (tally.pairs, tally.compared, tally.agreed) == (101, 100, 90)
    assert (tally.production_errors, tally.shadow_errors) == (0, 1)
    assert len(tally.examples) == MAX_EXAMPLES
    assert tally.examples[0]["production"]["body"] == "[0]"
    again = Tally.of_document(json.loads(json.dumps(tally.document())))
    assert again.document() == tally.document()


def test_the_report_merges_the_window_and_reads_quantiles() -> None:
    rng = random.Random(7)
    stored = []
    latencies = []
    for period in range(10):
        tally = Tally()
        for _ in range(50):
            micros = rng.lognormvariate(8, 0.5)
            latencies.append(micros)
            pair = _pair(1, 1 if rng.random() < 0.8 else 2)
            pair = replace(pair, production=Answer(200, b"[1]", None, micros))
            tally.add(pair, Tolerance())
        stored.append(StoredTally("main", "cand", 1000.0 + period * 30, tally))
    stored.append(StoredTally("main", "other", 1000.0, Tally(pairs=7)))  # another shadow
    stored.append(StoredTally("main", "cand", 10.0, Tally(pairs=9)))  # before the window
    answer = report("e", "cand", stored, start=1000.0, end=None)
    assert answer["pairs"] == 500
    assert answer["agreement"] == pytest.approx(answer["agreed"] / 500)
    assert 0.7 < answer["agreement"] < 0.9
    assert answer["production"]["p50_ms"] == pytest.approx(
        np.quantile(latencies, 0.5) / 1000, rel=0.05
    )
    assert answer["production"]["p99_ms"] == pytest.approx(
        np.quantile(latencies, 0.99) / 1000, rel=0.1
    )
    # minutes from 960 s: the periods at 1000, 1030, ..., 1270 s fall 1, 2, 2, 2, 2, 1 a minute
    assert [m["pairs"] for m in answer["timeline"]] == [50, 100, 100, 100, 100, 50]
    empty = report("e", "cand", stored, start=5000.0, end=None)
    assert empty["pairs"] == 0 and empty["agreement"] is None
