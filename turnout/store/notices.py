"""Listening for the store's change notices (PostgreSQL LISTEN/NOTIFY).

A thread holds its own connection, LISTENs on the given channels and hands every notice
to a callback (which must be thread-safe: the runtime's hops onto its event loop). When
the connection drops it reconnects with back-off; notices sent meanwhile are lost, which
is why every reader also polls (slowly) as the fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import psycopg
from sqlalchemy.engine import URL

from turnout.store.cluster import Channel

log = logging.getLogger("turnout.store")

Callback = Callable[[Channel, str], object]
_WAIT = 0.5  # s: how often the thread checks whether it should stop
_BACKOFF = (0.5, 1.0, 2.0, 5.0)  # s between reconnection attempts


class NoticeListener:
    def __init__(self, url: URL, channels: Sequence[Channel], callback: Callback) -> None:
        # psycopg takes libpq's URL: the SQLAlchemy driver suffix must go.
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._channels = tuple(channels)
        self._callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store notices", daemon=True)
        self.connected = threading.Event()  # set while LISTENing (tests wait on it)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    for channel in self._channels:
                        conn.execute(f'LISTEN "{channel.value}"')
                    self.connected.set()
                    failures = 0
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=_WAIT):
                            self._deliver(notice.channel, notice.payload)
            except psycopg.Error as exc:
                self.connected.clear()
                delay = _BACKOFF[min(failures, len(_BACKOFF) - 1)]
                failures += 1
                log.warning("store notices: %s; listening again in %.1f s", exc, delay)
                self._stop.wait(delay)
        self.connected.clear()

    def _deliver(self, channel: str, payload: str) -> None:
        try:
            self._callback(Channel(channel), payload)
        except Exception:  # a bad callback must not end the listening
            log.exception("store notices: handling %s failed", channel)
