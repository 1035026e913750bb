"""The queue's worker: one per `turnout serve` (each node claims work; the lease makes that
safe), on the event loop, with every store access and file or S3 transfer in threads.

Each tick it queues again the requests of dead workers (expired leases), renews its own
leases, reads the backlog, and claims as many queued requests per endpoint as its variants
have free slots (turnout.async_inference.capacity). A claimed request goes through the same
dispatch path as a real-time invocation (weights, metrics, timeouts), its input streamed from
a file, and its answer is written to `<S3OutputPath>/<InferenceId>.out` before the row is
marked done: a request whose output is already there (its worker died after writing) is just
marked done, so its effect happens once (ADR 0031).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from random import random
from time import perf_counter

from turnout.async_inference.capacity import Slots, choose, free_slots
from turnout.async_inference.objects import InputError, InputFile, Objects
from turnout.domain.async_inference import (
    DEFAULT_CONCURRENCY_PER_INSTANCE,
    AsyncRequest,
    Backlog,
    RequestState,
)
from turnout.errors import NotFound
from turnout.routing.dispatch import Dispatcher, DispatchError, Failure
from turnout.routing.invocation import Invocation
from turnout.routing.table import EndpointRoute, VariantRoute
from turnout.store import Store
from turnout.store.async_queue import AsyncQueue

log = logging.getLogger("turnout.async_inference")

CHUNK_BYTES = 1024 * 1024  # what is read from the input file and sent at a time
TICK = 0.25  # seconds between looks at the queue when nothing wakes the worker
MAX_ATTEMPTS = 3  # claims of one request (each crash of its worker counts) before it fails
KEEP_FINISHED = 24 * 3600.0  # finished rows are forgotten after a day
# Dispatch failures that say "not now" rather than "this request is bad": queued again.
_RETRIED = frozenset(
    (Failure.NO_ENDPOINT, Failure.NO_VARIANT, Failure.NO_WEIGHT, Failure.OVERLOADED,
     Failure.NO_INSTANCE, Failure.THROTTLED)
)  # fmt: skip
_GONE = 0  # an endpoint's per-instance concurrency when it no longer exists


class FileStream:
    """A file sent as a request body, CHUNK_BYTES at a time, read in a thread."""

    def __init__(self, path: Path, length: int) -> None:
        self.path = path
        self.length = length

    async def chunks(self) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)


@dataclass(frozen=True)
class _Look:
    """What one tick read from the store."""

    held: set[int]  # the running requests this worker still holds
    backlogs: list[Backlog]
    per_instance: dict[str, int]  # per endpoint with queued requests (_GONE: deleted)


class AsyncWorker:
    def __init__(
        self,
        store: Store,
        queue: AsyncQueue,
        objects: Objects,
        dispatcher: Dispatcher,
        node: str,
        lease_ttl: float,
    ) -> None:
        self._store = store
        self._queue = queue
        self._objects = objects
        self._dispatcher = dispatcher
        # A restarted node must not take the leases of its previous life for its own.
        self.owner = f"{node}/{uuid.uuid4().hex[:12]}"
        self._ttl = lease_ttl
        self._running: dict[int, asyncio.Task[None]] = {}
        self._in_flight: dict[tuple[str, str, str], int] = {}  # (endpoint, config, variant)
        self._wake = asyncio.Event()
        self._pruned_at = 0.0
        self._requeued_at = 0.0
        # The last backlog read (the event loop's; an immutable snapshot for metrics).
        self.backlogs: tuple[Backlog, ...] = ()

    def wake(self) -> None:
        """Look at the queue now (a request was queued); call on the event loop."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception as exc:  # a store hiccup: the next tick tries again
                log.warning("asynchronous inference: tick failed (%s); will retry", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK)
            self._wake.clear()

    async def close(self) -> None:
        """Stop the requests in flight and queue them again at once, for another worker
        (or this node after its restart); a crash leaves that to their leases' expiry."""
        held = dict(self._running)
        for task in held.values():
            task.cancel()
        await asyncio.gather(*held.values(), return_exceptions=True)
        try:
            await asyncio.to_thread(self._release, list(held))
        except Exception as exc:  # the store is down: the leases lapse instead
            log.warning(
                "asynchronous inference: could not release %d requests (%s)", len(held), exc
            )

    def _release(self, ids: list[int]) -> None:
        for request_id in ids:
            self._queue.release(request_id, self.owner)

    async def _tick(self) -> None:
        look = await asyncio.to_thread(self._look, set(self._running), time.time())
        self.backlogs = tuple(look.backlogs)
        for request_id, task in list(self._running.items()):
            if request_id not in look.held:  # our lease lapsed: another worker has it
                task.cancel()
        for endpoint, per_instance in look.per_instance.items():
            if per_instance == _GONE:
                await self._fail_orphans(endpoint)
                continue
            route = self._dispatcher.router.table.endpoints.get(endpoint)
            if route is None:
                continue  # not routed on this node (yet): another node, or a later tick
            slots = self._slots(route)
            wanted = free_slots(slots, per_instance)
            if wanted <= 0:
                continue
            claimed = await asyncio.to_thread(
                self._queue.claim, endpoint, self.owner, time.time(), self._ttl, wanted
            )
            for request in claimed:
                index = choose(self._slots(route), per_instance, random())
                variant = route.routes[index] if index is not None else route.routes[0]
                self._start(request, variant)

    def _look(self, running: set[int], now: float) -> _Look:
        queue = self._queue
        if now - self._requeued_at >= self._ttl / 4:  # leases expire no faster than that
            self._requeued_at = now
            queue.requeue_expired(now)
        held = queue.renew(self.owner, running, now, self._ttl)
        backlogs = queue.backlogs()
        per_instance = {b.endpoint: self._per_instance(b.endpoint) for b in backlogs if b.queued}
        if now - self._pruned_at > 600:
            self._pruned_at = now
            queue.prune(now - KEEP_FINISHED)
        return _Look(held, backlogs, per_instance)

    def _per_instance(self, endpoint: str) -> int:
        """MaxConcurrentInvocationsPerInstance of the endpoint's config (thread)."""
        try:
            config = self._store.get_endpoint(endpoint).config_name
        except NotFound:
            return _GONE
        found = self._store.async_inference_of(config)
        return found.concurrency_per_instance if found else DEFAULT_CONCURRENCY_PER_INSTANCE

    def _slots(self, route: EndpointRoute) -> list[Slots]:
        weights = route.weights()
        return [
            Slots(
                (v.config, v.name),
                weights.get((v.config, v.name), 0.0),
                sum(1 for u in v.upstreams if u.ready),
                self._in_flight.get((route.name, v.config, v.name), 0),
            )
            for v in route.routes
        ]

    def _start(self, request: AsyncRequest, variant: VariantRoute) -> None:
        key = (request.endpoint, variant.config, variant.name)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1

        async def serve() -> None:
            try:
                await self._serve(request, variant)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store or S3 failure: the lease lapses, it runs again
                log.warning("asynchronous request %s: %s; will retry", request.inference_id, exc)
            finally:
                self._in_flight[key] -= 1
                self._running.pop(request.id, None)
                self._wake.set()  # a slot is free: claim the next request now

        self._running[request.id] = asyncio.create_task(serve(), name="async request")

    async def _fail_orphans(self, endpoint: str) -> None:
        """Fail the queued requests of an endpoint deleted since (a few per tick)."""
        claimed = await asyncio.to_thread(
            self._queue.claim, endpoint, self.owner, time.time(), self._ttl, 16
        )
        for request in claimed:
            await self._fail(request, f"Endpoint {endpoint} was deleted before the request ran.")

    async def _serve(self, request: AsyncRequest, variant: VariantRoute) -> None:
        objects = self._objects
        if time.time() > request.deadline:
            await self._fail(request, "The request's RequestTTLSeconds expired before it ran.")
            return
        if await asyncio.to_thread(objects.exists, request.output_location):
            # Its output was written by a worker that died before marking it: done once.
            await self._finish(request, RequestState.DONE, None)
            return
        if request.attempts > MAX_ATTEMPTS:
            await self._fail(
                request, f"The request was interrupted {MAX_ATTEMPTS} times; it is not retried."
            )
            return
        try:
            spooled = await asyncio.to_thread(objects.fetch, request.input_location)
        except InputError as exc:
            await self._fail(request, str(exc))
            return
        try:
            await self._invoke(request, variant, spooled)
        finally:
            await asyncio.to_thread(spooled.discard)

    async def _invoke(
        self, request: AsyncRequest, variant: VariantRoute, spooled: InputFile
    ) -> None:
        relayed = [
            (header, value.encode("latin-1"))
            for header, value in (
                (b"Content-Type", request.content_type),
                (b"Accept", request.accept),
                (b"X-Amzn-SageMaker-Custom-Attributes", request.custom_attributes),
                (b"X-Amzn-SageMaker-Inference-Id", request.inference_id),
            )
            if value is not None
        ]
        invocation = Invocation(
            request.endpoint,
            variant.name,
            [],
            relayed,
            b"",
            perf_counter(),
            config=variant.config,
            stream=FileStream(spooled.path, spooled.size),
            # The instance's health check bounds a model call by the model timeout anyway.
            timeout=min(request.invocation_timeout, self._dispatcher.router.limits.model_timeout),
        )
        dispatcher = self._dispatcher
        try:
            dispatcher.admit()
        except DispatchError:
            await asyncio.to_thread(self._queue.release, request.id, self.owner)
            return
        try:
            outcome = await dispatcher.dispatch(invocation)
        except DispatchError as error:
            dispatcher.failed(invocation, error)
            if error.failure in _RETRIED:
                await asyncio.to_thread(self._queue.release, request.id, self.owner)
            else:
                await self._fail(request, _reason(error), error)
            return
        finally:
            dispatcher.release()
        dispatcher.succeeded(invocation, outcome)
        response = outcome.response
        content_type = response.header(b"content-type") or b"application/octet-stream"
        await asyncio.to_thread(
            self._objects.write,
            request.output_location,
            response.body,
            content_type.decode("latin-1"),
        )
        await self._finish(request, RequestState.DONE, None)

    async def _fail(
        self, request: AsyncRequest, reason: str, error: DispatchError | None = None
    ) -> None:
        """Write the failure object, then mark the request failed."""
        document: dict[str, object] = {"InferenceId": request.inference_id, "FailureReason": reason}
        if error is not None and error.failure is Failure.MODEL_ERROR:
            document["OriginalStatusCode"] = error.status
            document["OriginalMessage"] = error.message
        body = json.dumps(document).encode()
        await asyncio.to_thread(
            self._objects.write, request.failure_location, body, "application/json"
        )
        await self._finish(request, RequestState.FAILED, reason)

    async def _finish(self, request: AsyncRequest, state: RequestState, reason: str | None) -> None:
        marked = await asyncio.to_thread(
            self._queue.finish, request.id, self.owner, state, time.time(), reason
        )
        if not marked:  # the lease lapsed meanwhile; the other worker's re-run finds the object
            log.info("asynchronous request %s: lease lost before marking it", request.inference_id)


def _reason(error: DispatchError) -> str:
    if error.failure is Failure.MODEL_ERROR:
        return f"The model answered with status {error.status}."
    return error.message
