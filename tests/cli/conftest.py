"""Helpers for the CLI tests: what a person sees on the terminal, without colour."""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text: str) -> str:
    """`text` without ANSI escapes (Rich colours output when FORCE_COLOR or CI ask it to)."""
    return ANSI.sub("", text)


def one_error_line(stderr: str) -> str:
    """The single `error: ...` line a failed command printed (and nothing else, no traceback)."""
    text = plain(stderr)
    lines = text.strip().splitlines()
    assert "Traceback" not in text, text
    assert len(lines) == 1, f"expected one line on stderr, got:\n{text}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
