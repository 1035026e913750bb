"""Which clients get plotly.js gzipped (pure)."""

from __future__ import annotations

import pytest

from turnout.api.dashboard.assets import accepts_gzip


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip, deflate, br, zstd", True),  # Chromium
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("deflate, gzip;q=0.0", False),
        ("GZIP", True),
    ],
)
def test_accepts_gzip(header: str, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip
