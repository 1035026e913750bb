"""Adaptive batching: the requests that wait while the model is busy share one predict call.

The model runs inline on the instance's event loop (a sub-millisecond predict costs less
than a hand-off to a thread, and a hung model must stop /ping too). So while one predict
runs, new requests queue in the socket buffers; when it returns, the loop reads them all,
each is decoded and submitted, and a flush scheduled with `call_soon` runs after all of
them: they go to the model as one batch. A lone request waits for nothing (`call_soon`
runs in the same loop iteration's wake-up), unless `max_delay_ms` asks it to wait for
company. Inputs that cannot stack are predicted apart; a batch whose predict fails is
halved until the request that fails stands alone, so a bad request fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

from turnout.models import batching
from turnout.models.batching import BatchPolicy
from turnout.models.errors import InvocationError
from turnout.models.runtime import Model

# What predict gives each request: its outputs, and the size of the batch it opened (the
# first request of each predict call carries it, so batches are counted once), else 0.
Answer = tuple[Any, int]


class _Item:
    __slots__ = ("future", "inputs", "rows", "signature")

    def __init__(self, inputs: Any, signature: Hashable, future: asyncio.Future[Answer]):
        self.inputs = inputs
        self.signature = signature
        self.rows = batching.rows(inputs)
        self.future = future


class Batcher:
    __slots__ = ("_flush_handle", "_loop", "_max_delay", "_max_size", "_model", "_pending")

    def __init__(self, model: Model, policy: BatchPolicy) -> None:
        self._model = model
        self._max_size = policy.max_size
        self._max_delay = policy.max_delay_ms / 1000.0
        self._pending: list[_Item] = []
        self._flush_handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def predict(self, inputs: Any) -> Answer:
        """This request's outputs; raises what the model raised for it alone."""
        if self._max_size <= 1:
            return self._model.predict(inputs), 1
        signature = batching.signature(inputs)
        if signature is None:  # cannot stack: no reason to wait
            return self._model.predict(inputs), 1
        loop = self._loop or self._bind()
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending.append(_Item(inputs, signature, future))
        if len(self._pending) >= self._max_size:
            self._schedule(0.0)
        elif self._flush_handle is None:
            self._schedule(self._max_delay)
        return await future

    def _bind(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.get_running_loop()
        return self._loop

    def _schedule(self, delay: float) -> None:
        assert self._loop is not None
        if self._flush_handle is not None:
            if delay > 0.0:
                return  # a flush is already due no later than this one would be
            self._flush_handle.cancel()
        if delay > 0.0:
            self._flush_handle = self._loop.call_later(delay, self._flush)
        else:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        pending = self._pending
        taken = pending[: self._max_size]
        del pending[: self._max_size]
        groups: dict[Hashable, list[_Item]] = {}
        for item in taken:
            if not item.future.done():  # skip requests whose caller went away
                groups.setdefault(item.signature, []).append(item)
        for items in groups.values():
            if len(items) == 1:
                self._alone(items[0])
            else:
                self._together(items)
        if pending and self._flush_handle is None:
            # More than one batch's worth came in: the rest go next, without delay, but
            # after the answers just set are sent (their tasks were scheduled first).
            self._schedule(0.0)

    def _together(self, items: list[_Item]) -> None:
        try:
            outputs = self._model.predict(batching.stack([item.inputs for item in items]))
            parts = batching.split(outputs, [item.rows for item in items])
        except (Exception, SystemExit):
            # One bad request must not fail the others: halve until it stands alone, so
            # the rest stay batched (about 2 log2(n) more calls for one bad request).
            half = len(items) // 2
            for part in (items[:half], items[half:]):
                if len(part) == 1:
                    self._alone(part[0])
                else:
                    self._together(part)
            return
        size = len(items)
        for item, part in zip(items, parts, strict=True):
            if not item.future.done():
                item.future.set_result((part, size))
            size = 0

    def _alone(self, item: _Item) -> None:
        try:
            answer = (self._model.predict(item.inputs), 1)
        except (Exception, SystemExit) as err:
            if not item.future.done():
                # A SystemExit raised in a task would stop the event loop: keep it a failure.
                failure = err if isinstance(err, Exception) else _exited(err)
                item.future.set_exception(failure)
            return
        if not item.future.done():
            item.future.set_result(answer)


def _exited(err: BaseException) -> InvocationError:
    return InvocationError(500, f"{type(err).__name__}: {err}")
