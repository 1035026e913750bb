"""The experiment report and the shadow comparison at 80 columns (a default terminal):
every figure whole, nothing clipped to "…"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rich.console import Console

from turnout.cli.experiments import print_report
from turnout.cli.shadow import comparison_table


def interval(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "low": low, "high": high}


def comparison(metric: str, variant: str, binary: bool) -> dict[str, Any]:
    scale = 1.0 if binary else 1000.0
    return {
        "metric": metric, "variant": variant, "significant": True,
        "control": interval(0.1234 * scale, 0.1012 * scale, 0.1456 * scale),
        "treatment": interval(0.1357 * scale, 0.1133 * scale, 0.1581 * scale),
        "lift_absolute": interval(0.0123 * scale, -0.0045 * scale, 0.0291 * scale),
        "lift_relative": interval(0.0997, -0.0321, 0.2213),
        "p_value": 0.000123, "p_value_sequential": 0.0412, "chance_to_beat_control": 0.9731,
    }  # fmt: skip


REPORT: dict[str, Any] = {
    "name": "checkout-button", "endpoint": "recommender", "status": "running",
    "definition": {
        "control": "baseline-model", "method": "sequential", "alpha": 0.05,
        "minimum_sample": 10_000, "variants": ["baseline-model", "candidate-v2"],
        "primary": {"name": "converted", "kind": "binary", "direction": "higher"},
        "guardrails": [{"name": "basket_value", "kind": "mean", "direction": "higher"}],
    },
    "comparisons": [comparison("converted", "candidate-v2", True),
                    comparison("basket_value", "candidate-v2", False)],
    "users": {"baseline-model": 123_456, "candidate-v2": 123_789},
    "expected_shares": {"baseline-model": 0.5, "candidate-v2": 0.5},
    "sample_ratio_test": "chi-square", "phase": None, "looks": 12,
    "sample_ratio_mismatch": False, "sample_ratio_p": 0.52, "assumptions": None,
    "feedback": {}, "decision": {"verdict": "winner", "message": "candidate-v2 wins"},
    "outcome": None,
}  # fmt: skip


def recorded(width: int = 80) -> Console:
    return Console(width=width, record=True, color_system=None)


def figures(text: str) -> list[str]:
    return re.findall(r"[-+]?\d[\d,]*\.?\d*(?:e-?\d+)?%?", text)


@pytest.mark.parametrize("width", [80, 120])
def test_the_experiment_report_keeps_every_figure(width: int) -> None:
    console = recorded(width)
    print_report(REPORT, console)
    text = console.export_text()
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= width
    flat = " ".join(text.split())
    words = set(text.split())
    for figure in ("12.3%", "[10.1%, 14.6%]", "13.6%", "[11.3%, 15.8%]", "+1.23%",
                   "[-0.45%, +2.91%]", "+10.0%", "[-3.2%, +22.1%]", "0.00012", "0.041",
                   "97.3%", "123,456", "123,789", "123.4", "[101.2, 145.6]", "+12.3",
                   "[-4.5, +29.1]"):  # fmt: skip
        assert all(part in words for part in figure.split()), (figure, text)
    for header in ("variant", "users", "conv.", "mean", "lift", "abs", "rel", "seq.", "P(beat)"):
        assert header in words, (header, text)
    assert "baseline-model (control)" in flat and "candidate-v2 *" in flat


def test_the_shadow_comparison_keeps_every_figure() -> None:
    body = "[[0.12345, 0.23456, 0.34567, 0.45678, 0.56789, 0.67891]]"
    found = {
        "shadow_variant": "candidate-shadow", "production_variants": ["baseline-model"],
        "pairs": 12_345, "compared": 12_000, "agreement": 0.98765, "dropped": 17,
        "production": {"p50_ms": 3.456, "p99_ms": 12.34, "errors": 3, "error_rate": 0.000243},
        "shadow": {"p50_ms": 4.567, "p99_ms": 23.45, "errors": 12, "error_rate": 0.000972},
        "examples": [{"production": {"body": body}, "shadow": {"body": body.replace("1", "9")}}],
    }  # fmt: skip
    console = recorded()
    console.print(comparison_table(found))
    text = console.export_text()
    assert "…" not in text, text
    flat = "".join(text.split())
    for figure in ("12345pairs", "98.77%", "3.46", "12.3", "4.57", "23.4", "0.02%", "0.10%"):
        assert figure in flat, (figure, text)
    assert set(body[:40].split()) <= set(text.split())  # the first 40 characters shown
