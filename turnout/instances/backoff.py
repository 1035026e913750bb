"""How long to wait before restarting an instance that keeps failing."""

from __future__ import annotations

BASE_DELAY = 0.5
MAX_DELAY = 30.0
# An instance that stayed ready this long is considered healthy again: its next crash
# restarts it at once instead of continuing the back-off.
STABLE_AFTER = 60.0


def restart_delay(
    consecutive_failures: int, base: float = BASE_DELAY, cap: float = MAX_DELAY
) -> float:
    """0 for the first failure, then base, 2*base, 4*base, ... capped at `cap` seconds."""
    if consecutive_failures <= 1:
        return 0.0
    return float(min(cap, base * 2 ** min(consecutive_failures - 2, 64)))
