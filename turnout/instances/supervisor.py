"""One instance as a supervised child process: start, readiness, health, restart, stop.

States (see `InstanceState`):

    Starting ──/ping 200──▶ Ready ──exit / hang / memory──▶ Restarting ──back-off──▶ Starting
       │                      │
       └─never ready─▶ Failed └──stop()──▶ Stopping ──▶ Stopped

An instance that never became ready fails for good (its endpoint decides what to do); once
it has served, every crash is followed by a restart with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from turnout.instances.backend import Address, InstanceSpec, InstanceStartFailed, InstanceState
from turnout.instances.backoff import STABLE_AFTER, restart_delay
from turnout.instances.listening import listens
from turnout.instances.ping import ping
from turnout.instances.stamping import Stamper, parse
from turnout.instances.usage import HISTORY, Usage, UsageSampler

log = logging.getLogger("turnout.instances")

LOG_ROTATE_BYTES = 10 * 1024 * 1024
# How long a failure reason waits for the instance's last words to reach its log.
LOG_DRAIN_SECONDS = 2.0
# Starts moved to a new port in a row because another process held the one chosen.
MAX_PORT_MOVES = 3


class PortTaken(str):
    """Why a start failed: the TCP port was taken by another process before the child bound
    it (ports are probed free, then bound by the child moments later)."""


@dataclass(frozen=True)
class Launch:
    """How to run the instance's process (decided once the artifact is prepared)."""

    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class HealthPolicy:
    startup_timeout: float = 300.0
    ping_interval: float = 5.0
    ping_timeout: float = 2.0
    # Pings may fail while a slow request holds the model; restart only after this long.
    unresponsive_after: float = 60.0
    memory_limit_mb: int | None = None
    stop_grace: float = 10.0


class SupervisedInstance:
    """Implements `turnout.instances.backend.Instance` for a local child process."""

    def __init__(
        self,
        spec: InstanceSpec,
        address: Address,
        log_path: Path,
        prepare: Callable[[], Callable[[Address], Launch]],
        policy: HealthPolicy,
        fresh_address: Callable[[], Address] | None = None,
    ) -> None:
        """`prepare` readies the artifact (once, in a thread) and gives how to run the
        process at an address. With `fresh_address` (TCP), every restart binds a new
        address: another process may have taken the old port meanwhile."""
        self._spec = spec
        self._address = address
        self._log_path = log_path
        self._prepare = prepare
        self._fresh_address = fresh_address
        self._policy = policy
        self._state = InstanceState.STARTING
        self._ready = False
        self._proc: asyncio.subprocess.Process | None = None
        self._stamper: Stamper | None = None  # copies the process's output into the log
        self._restarts = 0
        self._last_error: str | None = None
        self._started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Nobody may be waiting when a start fails; don't let asyncio call it unretrieved.
        self._started.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._wake = asyncio.Event()  # something outside asks the watch loop to look again
        self._stopping = False
        self._kill_reason: str | None = None
        self._sampler = UsageSampler()  # used by one thread at a time (see _watch)
        self._usage: deque[Usage] = deque(maxlen=HISTORY)  # the loop's: appended there only
        self._task = asyncio.create_task(self._run(), name=f"instance {spec.id}")

    # Instance protocol
    @property
    def spec(self) -> InstanceSpec:
        return self._spec

    @property
    def address(self) -> Address:
        return self._address

    @property
    def state(self) -> InstanceState:
        return self._state

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def restarts(self) -> int:
        return self._restarts

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def log(self) -> str:
        return str(self._log_path)

    @property
    def placement(self) -> str | None:
        return None  # a child process of this one

    @property
    def usage(self) -> Sequence[Usage]:
        return tuple(self._usage)

    async def wait_started(self) -> None:
        await asyncio.shield(self._started)

    def report_unresponsive(self, reason: str) -> None:
        if self._state is InstanceState.READY and self._kill_reason is None:
            self._ready = False
            self._kill_reason = f"unresponsive: {reason}"
            self._wake.set()

    async def stop(self) -> None:
        """Finish what it is answering (bounded by the stop grace), then exit for good."""
        self._stopping = True
        self._ready = False
        if self._state is not InstanceState.FAILED:
            self._state = InstanceState.STOPPING
        self._wake.set()
        # The loop notices _stopping at its next await and returns; cancelling it instead
        # could interrupt a spawn and leak the new process.
        await self._task
        await self._terminate(graceful=True)
        if self._state is not InstanceState.FAILED:
            self._state = InstanceState.STOPPED
        if not self._started.done():
            self._started.set_exception(InstanceStartFailed("stopped before it was ready"))

    # the supervision loop
    async def _run(self) -> None:
        try:
            launch_at = await asyncio.to_thread(self._prepare)
        except Exception as exc:  # an artifact problem: say why, in one line
            self._fail_start(str(exc) or type(exc).__name__)
            return
        if self._stopping:
            return
        failures = 0
        moves = 0
        while not self._stopping:
            self._state = InstanceState.STARTING
            offset = await self._spawn(launch_at(self._address))
            problem = await self._await_ready()
            if self._stopping:
                return
            if isinstance(problem, PortTaken) and moves < MAX_PORT_MOVES:
                # Not the model's fault: start again at once elsewhere, even the first time.
                assert self._fresh_address is not None
                log.warning("instance %s: %s; moving to another port", self._spec.id, problem)
                await self._terminate(graceful=False)
                self._address = self._fresh_address()
                moves += 1
                continue
            moves = 0
            if problem is not None:
                await self._terminate(graceful=False)
                self._last_error = f"{problem}{await self._log_tail(offset)}"
                if not self._started.done():
                    self._fail_start(self._last_error)
                    return
                failures += 1
            else:
                ready_at = time.monotonic()
                self._state, self._ready = InstanceState.READY, True
                if not self._started.done():
                    self._started.set_result(None)
                reason = await self._watch()
                self._ready = False
                if self._stopping:
                    return
                await self._terminate(graceful=False)
                self._last_error = f"{reason}{await self._log_tail(offset)}"
                stable = time.monotonic() - ready_at >= STABLE_AFTER
                failures = 1 if stable else failures + 1
            self._state = InstanceState.RESTARTING
            self._restarts += 1
            if self._fresh_address is not None:
                self._address = self._fresh_address()
            delay = restart_delay(failures)
            log.warning(
                "instance %s: %s; restarting in %.1f s", self._spec.id, self._last_error, delay
            )
            with contextlib.suppress(TimeoutError):  # stop() cuts the back-off short
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _spawn(self, launch: Launch) -> int:
        """Start the process with its output appended to the log; returns the log offset."""
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log_path.exists() and self._log_path.stat().st_size > LOG_ROTATE_BYTES:
            self._log_path.replace(self._log_path.with_suffix(".log.1"))
        if self._address.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._address.path)
        offset = self._log_path.stat().st_size if self._log_path.exists() else 0
        read_fd, write_fd = os.pipe()  # output goes through a Stamper into the log
        try:
            # Spawned from the event-loop thread: the parent-death signal is tied to it.
            self._proc = await asyncio.create_subprocess_exec(
                *launch.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=asyncio.subprocess.STDOUT,
                cwd=launch.cwd,
                env=launch.env,
                start_new_session=True,  # Ctrl-C reaches the server, which stops us in order
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._stamper = Stamper(read_fd, self._log_path)
        self._stamper.start()
        self._kill_reason = None
        self._wake.clear()
        return offset

    async def _await_ready(self) -> str | None:
        """None once /ping answers 200 from our child; else why the instance did not come up
        (a `PortTaken` when someone else answers on its TCP port)."""
        assert self._proc is not None
        deadline = time.monotonic() + self._policy.startup_timeout
        interval = 0.05
        while True:
            if self._proc.returncode is not None:
                return f"exited with code {self._proc.returncode} before it was ready"
            if self._stopping:
                return "stopped before it was ready"
            if await ping(self._address, self._policy.ping_timeout):
                if self._address.port is None or await asyncio.to_thread(
                    listens, self._proc.pid, self._address.port
                ):
                    return None
                # Only one process can listen on a port: our child will not get this one.
                return PortTaken(f"another process answers on {self._address}")
            if time.monotonic() >= deadline:
                return (
                    f"did not answer /ping within the startup timeout of "
                    f"{self._policy.startup_timeout:g} s"
                )
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, 0.5)

    async def _watch(self) -> str:
        """Wait while the instance is healthy; return why it must restart."""
        assert self._proc is not None
        proc = self._proc
        exited = asyncio.ensure_future(proc.wait())
        failing_since: float | None = None
        try:
            while True:
                woken = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait(
                    {exited, woken},
                    timeout=self._policy.ping_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                if exited in done:
                    return f"exited with code {proc.returncode}"
                if self._stopping:
                    return "stopping"
                if self._kill_reason is not None:
                    return self._kill_reason
                # psutil reads /proc: in a thread, awaited, so one sample runs at a time and
                # its result is kept here, on the loop that reads the history.
                usage = await asyncio.to_thread(self._sampler.sample, proc.pid)
                if usage is not None:
                    self._usage.append(usage)
                over = self._memory_over_limit(usage)
                if over is not None:
                    return over
                if await ping(self._address, self._policy.ping_timeout):
                    failing_since = None
                elif failing_since is None:
                    failing_since = time.monotonic()
                elif time.monotonic() - failing_since > self._policy.unresponsive_after:
                    return f"unresponsive: /ping failed for {self._policy.unresponsive_after:g} s"
        finally:
            exited.cancel()

    def _memory_over_limit(self, usage: Usage | None) -> str | None:
        limit = self._policy.memory_limit_mb
        if limit is None or usage is None:
            return None
        rss = usage.memory_bytes
        if rss > limit * 1024 * 1024:
            return f"memory limit exceeded: {rss / 1024 / 1024:.0f} MB > {limit} MB"
        return None

    async def _terminate(self, *, graceful: bool) -> None:
        """End the process group: SIGTERM and a grace period if graceful, else SIGKILL."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        if graceful:
            _signal_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), self._policy.stop_grace)
        if proc.returncode is None:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()

    def _fail_start(self, reason: str) -> None:
        self._state, self._ready = InstanceState.FAILED, False
        self._last_error = reason
        if not self._started.done():
            self._started.set_exception(InstanceStartFailed(reason))

    async def _log_tail(self, offset: int) -> str:
        """': <last line the process wrote>' since `offset`, for one-line failure reasons;
        call it once the process has ended, so that its last words are in the log."""
        if self._stamper is not None:
            await asyncio.to_thread(self._stamper.join, LOG_DRAIN_SECONDS)
        return await asyncio.to_thread(self._read_tail, offset)

    def _read_tail(self, offset: int, max_bytes: int = 4096) -> str:
        try:
            with open(self._log_path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(offset, size - max_bytes))
                data = f.read()
        except OSError:
            return ""
        lines = [parse(ln)[1].decode("utf-8", "replace").strip() for ln in data.splitlines()]
        lines = [ln for ln in lines if ln]
        return f": {lines[-1]}" if lines else ""


def _signal_group(pid: int, sig: int) -> None:
    # The instance leads its own session (start_new_session), so its group id is its pid;
    # signalling the group also reaches workers a command-flavor server may have forked.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
