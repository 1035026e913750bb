"""The switch's hooks: `code/switch.py` in a switch model's artifact (ADR 0040).

Any of `preprocess(request) -> request`, `route(request, variants) -> variant name | None`
and `postprocess(request, answer) -> answer` may be defined; a missing one is the identity
(route: keep the sticky/weighted choice). User code runs in the router process, so it never
runs on the event loop: a small thread pool runs it, at most `threads` calls at once with
`queue` more waiting (beyond that the request is refused: OVERLOADED), each within `timeout`.
A call past its timeout still holds its thread until it returns (Python cannot stop a
thread): the bound on waiting calls keeps that from piling up.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import queue
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from turnout.domain.switch import SWITCH_CODE

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """What the hooks see of an invocation (replace fields with `dataclasses.replace`)."""

    body: bytes
    content_type: str
    custom_attributes: str | None = None  # X-Amzn-SageMaker-Custom-Attributes
    user: str | None = None  # the assignment key (X-Turnout-User or the cookie)
    headers: Mapping[str, str] = field(default_factory=dict)  # as received, lower-case names


@dataclass(frozen=True)
class Answer:
    """The target endpoint's answer, and who gave it."""

    body: bytes
    content_type: str
    endpoint: str  # the target endpoint
    variant: str  # the target endpoint's variant that answered


@dataclass(frozen=True)
class Hooks:
    """The functions a `switch.py` defines (None: not defined)."""

    preprocess: Callable[[Request], Request] | None = None
    route: Callable[[Request, list[str]], str | None] | None = None
    postprocess: Callable[[Request, Answer], Answer] | None = None


NO_HOOKS = Hooks()


class HookError(Exception):
    """User code raised, returned the wrong type, or could not be loaded."""


class HookTimeout(Exception):
    """User code did not return within the timeout."""


class HookBusy(Exception):
    """As many hook calls as allowed are running or waiting."""


def load_hooks(artifact: str) -> Hooks:
    """Import `code/switch.py` from a switch model's artifact directory (file I/O: call it
    off the loop). No artifact, or no such file: no hooks."""
    if not artifact:
        return NO_HOOKS
    root = Path(artifact.removeprefix("file://"))
    if not root.is_dir():
        raise HookError(
            f"The switch's ModelDataUrl {artifact} is not a local directory; put code/switch.py "
            "in a directory and name it (or a file:// URL to it)."
        )
    path = root / SWITCH_CODE
    if not path.is_file():
        return NO_HOOKS
    name = f"turnout_switch_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HookError(f"Cannot import {path}.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: any error is the switch's, reported as such
        raise HookError(f"Importing {path} failed: {exc!r}") from None
    sys.modules.pop(name, None)
    return Hooks(_fn(module, "preprocess"), _fn(module, "route"), _fn(module, "postprocess"))


def _fn(module: ModuleType, name: str) -> Any:
    found = getattr(module, name, None)
    return found if callable(found) else None


class HookRunner:
    """Runs hook calls in a bounded thread pool, with a timeout; loads hooks once each."""

    def __init__(self, threads: int, queue: int, timeout: float) -> None:
        self.timeout = timeout
        self._pool: _DaemonPool | None = None
        self._threads = threads
        self._limit = threads + queue
        self._running = 0  # calls submitted and not returned (counted on the loop)
        self._hooks: dict[str, Hooks | HookError] = {}

    async def hooks(self, artifact: str) -> Hooks:
        """The artifact's hooks, loaded off the loop the first time (a failure is kept)."""
        found = self._hooks.get(artifact)
        if found is None:
            try:
                found = await self.call(load_hooks, artifact)
            except HookError as exc:
                found = exc
            self._hooks[artifact] = found
        if isinstance(found, HookError):
            raise found
        return found

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the pool; HookBusy, HookTimeout or HookError instead of its result."""
        if self._running >= self._limit:
            raise HookBusy(f"{self._running} switch hook calls are running or waiting")
        if self._pool is None:
            self._pool = _DaemonPool(self._threads)
        self._running += 1
        future = self._pool.submit(asyncio.get_running_loop(), fn, *args)
        future.add_done_callback(self._done)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            name = getattr(fn, "__name__", "hook")
            raise HookTimeout(f"{name} took over {self.timeout:g} s") from None
        except (HookError, HookBusy, HookTimeout):
            raise
        except Exception as exc:  # user code: any error is the switch's
            raise HookError(f"{getattr(fn, '__name__', 'hook')} raised {exc!r}") from None

    def _done(self, _: object) -> None:
        self._running -= 1


class _DaemonPool:
    """Daemon threads taking calls from a queue: unlike ThreadPoolExecutor's, a hook that
    never returns cannot hold up the process's exit."""

    def __init__(self, threads: int) -> None:
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        for i in range(threads):
            threading.Thread(target=self._work, name=f"switch-hook-{i}", daemon=True).start()

    def submit(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, fn, args))
        return future

    def _work(self) -> None:
        while True:
            loop, future, fn, args = self._calls.get()
            try:
                result = fn(*args)
            except BaseException as exc:  # user code; SystemExit & co must not reach the loop
                error = exc if isinstance(exc, Exception) else HookError(f"raised {exc!r}")
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)


_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


CONTENT_TYPE = b"content-type"
CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"
# In the answer of a switch: which endpoint answered, and which of its variants.
TARGET_ENDPOINT_HEADER = b"x-turnout-target-endpoint"
TARGET_VARIANT_HEADER = b"x-turnout-target-variant"
SWITCH_HEADERS = (TARGET_ENDPOINT_HEADER, TARGET_VARIANT_HEADER)


def hook_limits() -> tuple[int, int, int | float]:
    """(threads, queue, timeout s) for hook calls, from the environment of `turnout serve`."""
    return (
        int(os.environ.get("TURNOUT_SWITCH_THREADS", "4")),
        int(os.environ.get("TURNOUT_SWITCH_QUEUE", "256")),
        float(os.environ.get("TURNOUT_SWITCH_TIMEOUT", "5")),
    )


def request_of(
    body: bytes, relayed: list[tuple[bytes, bytes]], headers: list[tuple[bytes, bytes]],
    user: str | None,
) -> Request:  # fmt: skip
    """The hooks' view of an invocation (`relayed`: headers as sent to an instance)."""
    found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in relayed}
    return Request(
        body,
        found.get("content-type", "application/octet-stream"),
        found.get("x-amzn-sagemaker-custom-attributes"),
        user,
        {k.decode("latin-1"): v.decode("latin-1") for k, v in headers},
    )


def relayed_of(request: Request, relayed: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The relayed headers with the hooks' content type and custom attributes in."""
    kept = [(k, v) for k, v in relayed if k.lower() not in (CONTENT_TYPE, CUSTOM_ATTRIBUTES)]
    kept.append((b"Content-Type", request.content_type.encode("latin-1")))
    if request.custom_attributes is not None:
        attributes = request.custom_attributes.encode("latin-1")
        kept.append((b"X-Amzn-SageMaker-Custom-Attributes", attributes))
    return kept


def checked(value: object, kind: type[T], hook: str) -> T:
    """A hook's result, if of the type it must return."""
    if not isinstance(value, kind):
        raise HookError(f"{hook} returned {type(value).__name__}, not {kind.__name__}")
    return value
