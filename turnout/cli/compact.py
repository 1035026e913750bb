"""Figures in at most six characters, for tables that must fit 80 columns: "1.2k", "12.3",
"0.12%", "512M" (pure). Never an ellipsis: a figure is shortened by its unit, not clipped.
"""

from __future__ import annotations

_UNITS = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def compact(value: float | None) -> str:
    """3 significant digits (more below 1,000 if whole): 0.123, 1.23, 12.3, 123, 1.2k, 12k."""
    if value is None:
        return "-"
    size = abs(value)
    for scale, unit in _UNITS:
        if size >= scale * 0.9995:
            scaled = value / scale
            return f"{scaled:.1f}{unit}" if abs(scaled) < 9.95 else f"{scaled:.0f}{unit}"
    if value == int(value):
        return str(int(value))
    if size < 0.01:
        return f"{value:.0e}".replace("e-0", "e-")
    if size < 9.995:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if size < 99.95:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.0f}"


def percent(value: float | None) -> str:
    """A 0..1 rate as a percentage: 0%, 0.05%, 1.2%, 12%, 100%."""
    if value is None:
        return "-"
    p = 100 * value
    if p == 0:
        return "0%"
    if p < 0.01:
        return "<0.01%"
    return f"{p:.2f}%" if p < 1 else f"{p:.1f}%" if p < 9.95 else f"{p:.0f}%"


def share(value: float | None) -> str:
    """A traffic share as people write it: "10%", "33.3%", "100%" (as the dashboard does)."""
    if value is None:
        return "-"
    p = 100 * value
    return f"{p:.0f}%" if abs(p - round(p)) < 0.05 else f"{p:.1f}%"


def megabytes(value: float | None) -> str:
    """Memory in MB as 512M, 1.2G."""
    if value is None:
        return "-"
    return f"{value / 1024:.1f}G" if value >= 1000 else f"{value:.0f}M"
