"""An instance run by a Ray actor, as `turnout serve` sees it: a mirror kept on the event loop.

A task follows the actor with long polls (`InstanceActor.observe`): awaiting an actor call
is an asyncio future, so the loop never blocks on Ray. While the actor cannot answer (its
process or node died and Ray is re-placing it, or its node stopped answering) the instance
is not ready; the router re-reads `address` at each new connection, so traffic follows the
instance to wherever Ray restarted it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import RayError

from turnout.instances.backend import Address, InstanceSpec, InstanceStartFailed, InstanceState
from turnout.instances.ray.actor import Observation
from turnout.instances.usage import HISTORY, Usage

log = logging.getLogger("turnout.instances")

# A long poll answers at the latest after WAIT s; an actor that has not answered WAIT +
# SILENCE s after being asked counts as lost (its node may be gone before Ray notices).
WAIT = 2.0
SILENCE = 3.0
RETRY_AFTER = 0.25
# Where an instance not placed yet "listens": port 0 is refused at once if ever dialled.
UNPLACED = Address.tcp("127.0.0.1", 0)


class RayInstance:
    """Implements `turnout.instances.backend.Instance` for an instance run by a Ray actor."""

    def __init__(self, spec: InstanceSpec, actor: Any, placement_timeout: float) -> None:
        """`actor` is the InstanceActor's handle; placement_timeout bounds the wait for Ray
        to place it the first time (e.g. no node has the resources its type asks for)."""
        self._spec = spec
        self._actor = actor
        self._placement_deadline = time.monotonic() + placement_timeout
        self._state = InstanceState.STARTING
        self._ready = False
        self._seen: Observation | None = None
        self._restarts_before = 0  # restarts counted by earlier incarnations of the actor
        self._lost: str | None = None  # why the actor was last unreachable
        self._held: int | None = None  # restarts when reported unresponsive, till it restarts
        self._usage: deque[Usage] = deque(maxlen=HISTORY)
        self._stopping = False
        self._errands: set[asyncio.Task[None]] = set()
        self._started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Nobody may be waiting when a start fails; don't let asyncio call it unretrieved.
        self._started.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._task = asyncio.create_task(self._follow(), name=f"ray instance {spec.id}")

    # Instance protocol
    @property
    def spec(self) -> InstanceSpec:
        return self._spec

    @property
    def address(self) -> Address:
        return self._seen.address if self._seen is not None else UNPLACED

    @property
    def state(self) -> InstanceState:
        return self._state

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def pid(self) -> int | None:
        """The process's pid on its node."""
        return self._seen.pid if self._seen is not None else None

    @property
    def restarts(self) -> int:
        return self._restarts_before + (self._seen.restarts if self._seen is not None else 0)

    @property
    def last_error(self) -> str | None:
        seen = self._seen.last_error if self._seen is not None else None
        return seen or self._lost

    @property
    def log(self) -> str:
        if self._seen is None:
            return "(not placed on a Ray node yet)"
        return f"{self._seen.host}:{self._seen.log}"  # the file is on that node

    @property
    def placement(self) -> str | None:
        return self._seen.placement if self._seen is not None else None

    @property
    def usage(self) -> Sequence[Usage]:
        return tuple(self._usage)

    async def wait_started(self) -> None:
        await asyncio.shield(self._started)

    def report_unresponsive(self, reason: str) -> None:
        if self._ready:
            # Not ready again until the actor has seen it: a long poll answered just before
            # the report reached it still says Ready.
            self._ready, self._held = False, self.restarts
            self._errand(self._actor.report_unresponsive.remote(reason))

    async def stop(self, grace: float) -> None:
        """Stop the process gracefully (within `grace` s), then kill the actor for good."""
        self._stopping, self._ready = True, False
        if self._state is not InstanceState.FAILED:
            self._state = InstanceState.STOPPING
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._seen is not None:  # else it has no process (maybe no node) to stop
            with contextlib.suppress(RayError, TimeoutError):
                async with asyncio.timeout(grace + SILENCE):
                    await self._actor.stop.remote()
        ray.kill(self._actor, no_restart=True)
        if self._state is not InstanceState.FAILED:
            self._state = InstanceState.STOPPED
        if not self._started.done():
            self._started.set_exception(InstanceStartFailed("stopped before it was ready"))

    # following the actor
    async def _follow(self) -> None:
        since = 0.0
        while not self._stopping:
            known = self._seen.key if self._seen is not None else None
            try:
                async with asyncio.timeout(WAIT + SILENCE):
                    seen: Observation = await self._actor.observe.remote(known, since, WAIT)
            except (RayError, TimeoutError) as exc:
                self._unreachable(exc)
                if self._state is InstanceState.FAILED and self._seen is None:
                    return  # never placed: the reconciler replaces it
                await asyncio.sleep(RETRY_AFTER)
                continue
            self._apply(seen)
            if seen.usage:
                since = seen.usage[-1].at

    def _apply(self, seen: Observation) -> None:
        before = self._seen
        if before is not None and seen.incarnation != before.incarnation:
            # Ray restarted the actor (its process or its node died): a restart too.
            self._restarts_before += before.restarts + 1
            log.warning(
                "instance %s: Ray re-placed it on node %s (%s)",
                self._spec.id, seen.host, self._lost or "its actor restarted",
            )  # fmt: skip
        self._seen = seen
        self._usage.extend(seen.usage)
        if self._held is not None and (seen.state is not InstanceState.READY
                                       or self.restarts > self._held):  # fmt: skip
            self._held = None
        self._state, self._ready = seen.state, seen.ready and self._held is None
        if seen.ready and not self._started.done():
            self._started.set_result(None)
        elif seen.state is InstanceState.FAILED and not self._started.done():
            self._started.set_exception(InstanceStartFailed(seen.last_error or "failed"))

    def _unreachable(self, exc: BaseException) -> None:
        """The actor did not answer: its process or node died (Ray restarts it elsewhere),
        its node is unresponsive, or Ray has not placed it yet."""
        if self._seen is None:
            if time.monotonic() >= self._placement_deadline and not self._started.done():
                reason = "Ray placed no actor for it within the startup timeout: " + (
                    "no node has the CPUs and memory its instance type reserves?"
                    if isinstance(exc, TimeoutError)
                    else _one_line(exc)
                )
                self._state, self._lost = InstanceState.FAILED, reason
                self._started.set_exception(InstanceStartFailed(reason))
            return
        if self._state is InstanceState.FAILED:
            return
        reason = "its Ray actor did not answer" if isinstance(exc, TimeoutError) else _one_line(exc)
        if self._ready:
            log.warning("instance %s: %s; waiting for Ray to restart it", self._spec.id, reason)
        self._lost, self._ready = reason, False
        self._state = InstanceState.RESTARTING

    def _errand(self, call: Any) -> None:
        """Await an actor call in the background; its failure is the follower's to see."""

        async def wait() -> None:
            with contextlib.suppress(RayError, TimeoutError):
                async with asyncio.timeout(SILENCE):
                    await call

        task = asyncio.create_task(wait())
        self._errands.add(task)
        task.add_done_callback(self._errands.discard)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
