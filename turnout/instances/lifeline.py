"""Tie an instance process's life to turnout serve's, so a killed server leaves no orphans."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
PARENT_VARIABLE = "TURNOUT_PARENT_PID"


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (no-op elsewhere).

    SIGKILL by default (ADR 0033): once turnout serve is dead nobody can take the
    instance's answers, and a model that ignores SIGTERM (a bring-your-own server, or one
    stuck in native code) would otherwise outlive it for good, holding memory and its port.

    The parent is the pid in TURNOUT_PARENT_PID (set by the supervisor), else the current
    parent; if it is already gone (it died between fork and here), `sig` comes at once.
    The kernel ties this to the parent *thread* that forked us, so turnout spawns instances
    from its event-loop thread, which lives as long as the server.
    """
    if not sys.platform.startswith("linux"):
        return
    expected = os.environ.get(PARENT_VARIABLE, "")
    parent = int(expected) if expected.isdigit() else os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)
