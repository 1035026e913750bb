"""Whether a process tree listens on a TCP port (psutil): telling our instance's answers
from those of another process that took its port."""

from __future__ import annotations

import psutil


def listens(pid: int, port: int) -> bool:
    """True if `pid` or one of its descendants has a listening TCP socket on `port`."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return False
    for process in tree:
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
               for c in connections):  # fmt: skip
            return True
    return False
