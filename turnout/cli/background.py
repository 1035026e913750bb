"""A `turnout serve` child process: started on a free port, stopped by its PID (demo, tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from turnout.client import Client, TurnoutClientError
from turnout.instances.listening import listens

# Starts tried when the port chosen for the child is taken before it binds.
_PORT_ATTEMPTS = 3


class ServerDidNotStart(RuntimeError):
    """The child exited or did not answer in time; str ends with its log's last lines."""


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """`preferred` if nothing listens there, else a port the kernel picks."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port")


class BackgroundServer:
    """`turnout serve` in a child process with its own data dir; a context manager."""

    def __init__(
        self, data_dir: Path, port: int = 0, extra_args: tuple[str, ...] = (), timeout: float = 60
    ) -> None:
        self.data_dir = data_dir
        self._chosen_port = not port  # ours to change if another process takes it first
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "serve.log"
        self.extra_args = extra_args
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BackgroundServer:
        """Start and wait until it answers; a port taken meanwhile is replaced (if ours)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(_PORT_ATTEMPTS):
            try:
                self._start_once()
                return self
            except ServerDidNotStart as err:
                # free_port() probes, then the child binds: another process can take the
                # port in between (tests run side by side).
                if not self._chosen_port or "in use" not in str(err):
                    raise
                if attempt == _PORT_ATTEMPTS - 1:
                    raise
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        argv = [
            sys.executable, "-m", "turnout.cli.main", "serve",
            "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.timeout
        with Client(self.url, timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise ServerDidNotStart(
                        f"turnout serve exited with status {self.process.returncode}: "
                        + self.log_tail()
                    )
                try:
                    client.health()
                    # Another process's server on the same port would answer too.
                    if listens(self.process.pid, self.port):
                        return
                except TurnoutClientError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerDidNotStart(
                        f"turnout serve did not answer in {self.timeout:g} s: {self.log_tail()}"
                    )
                time.sleep(0.1)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as a crash would: instances die with their parent (PDEATHSIG)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM (graceful: drains, stops instances), SIGKILL after `timeout`."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
