"""A multi-model instance's HTTP server: SageMaker's multi-model container contract (ADR 0037).

    GET    /ping                     200 once the server runs (models load on demand)
    GET    /models                   the loaded models, least recently used first
    POST   /models                   {"model_name": NAME}: load NAME from the prefix now
    GET    /models/{name}            one loaded model; 404 when it is not loaded
    DELETE /models/{name}            unload it; 404 when it is not loaded
    POST   /models/{name}/invoke     predict with NAME, loading it first when it is not loaded

`{name}` is the TargetModel, percent-encoded (a `/` inside it as %2F). Each loaded model
has its own InstanceApp (codec and batcher), so one batch never mixes models. Loads are
fetched a few at a time in threads and loaded one at a time (so the growth of the process's
RSS during a load is that model's), and concurrent first calls for one model share one
load. Under the memory budget the least recently used models are unloaded.

Answers to an invoke carry what the router counts (SageMaker's multi-model metrics):
`x-turnout-model-cache-hit` (1 or 0) and, for a miss, the microseconds spent waiting,
downloading, loading and unloading, and `x-turnout-loaded-models`.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from turnout.asgi import Receive, Scope, Send
from turnout.domain.target_model import check_target_model
from turnout.instances.server import InstanceApp, _reply
from turnout.models.batching import BatchPolicy
from turnout.models.errors import ModelLoadError
from turnout.models.model_cache import ModelCache
from turnout.models.multi_model import Fetched, ModelNotFound, ModelSource, load

CACHE_HIT = b"x-turnout-model-cache-hit"
WAIT_US = b"x-turnout-model-wait-us"  # ModelLoadingWaitTime
DOWNLOAD_US = b"x-turnout-model-download-us"  # ModelDownloadingTime
LOAD_US = b"x-turnout-model-load-us"  # ModelLoadingTime
UNLOAD_US = b"x-turnout-model-unload-us"  # ModelUnloadingTime
LOADED_COUNT = b"x-turnout-loaded-models"  # LoadedModelCount
UNAVAILABLE = b"x-turnout-model-unavailable"  # no model data at the URL (a ValidationError)
# A model that is there but does not load answers this status: the caller's doing (its
# model data), not the instance's, so it never counts towards ejecting the instance.
LOAD_FAILED_STATUS = 424
FETCHES_AT_ONCE = 4
_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"
_MODELS = b"/models"


@dataclass(slots=True)
class _Loaded:
    app: InstanceApp
    path: Path
    url: str


@dataclass(slots=True)
class _Timings:
    wait_us: float = 0.0
    download_us: float = 0.0
    load_us: float = 0.0
    unload_us: float = 0.0


class MultiModelApp:
    """The raw ASGI app of an instance that serves many models from one prefix."""

    def __init__(
        self,
        source: ModelSource,
        budget_bytes: int,
        environment: dict[str, str],
        max_payload_bytes: int,
    ) -> None:
        self._source = source
        self._environment = environment
        self._policy = BatchPolicy.of(environment)  # checked once: a bad setting fails start
        self._max_payload_bytes = max_payload_bytes
        self.cache = ModelCache(budget_bytes)
        self._models: dict[str, _Loaded] = {}
        self._loading: dict[str, asyncio.Future[_Loaded]] = {}
        self._load_lock: asyncio.Lock | None = None  # made on the server's loop
        self._fetches: asyncio.Semaphore | None = None
        self._process: Any = None  # psutil.Process, made on first load

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        method = scope["method"]
        if path == "/ping":
            await _reply(send, 200, b"{}", _JSON)
            return
        raw: bytes = scope.get("raw_path") or path.encode()
        if raw == _MODELS:
            if method == "GET":
                await self._list(send)
            elif method == "POST":
                await self._load_request(receive, send)
            else:
                await _reply(send, 405, b"use GET or POST /models", _TEXT)
        elif raw.startswith(b"/models/"):
            rest = raw[len(b"/models/") :]
            invoke = rest.endswith(b"/invoke")
            quoted = rest[: -len(b"/invoke")] if invoke else rest
            name = urllib.parse.unquote(quoted.decode("latin-1"))
            if invoke and method == "POST":
                await self._invoke(name, scope, receive, send)
            elif invoke:
                await _reply(send, 405, b"use POST /models/{name}/invoke", _TEXT)
            elif method == "DELETE":
                await self._unload_request(name, send)
            elif method == "GET":
                loaded = self._models.get(name)
                if loaded is None:
                    await _reply(send, 404, f"model {name} is not loaded".encode(), _TEXT)
                else:
                    body = json.dumps({"modelName": name, "modelUrl": loaded.url}).encode()
                    await _reply(send, 200, body, _JSON)
            else:
                await _reply(send, 405, b"use GET or DELETE /models/{name}", _TEXT)
        elif path == "/invocations":
            await _reply(
                send, 400,
                b"this instance serves a multi-model endpoint: name the model "
                b"(POST /models/{name}/invoke; X-Amzn-SageMaker-Target-Model)",
                _TEXT,
            )  # fmt: skip
        else:
            await _reply(send, 404, b"not found: use GET /ping or /models", _TEXT)

    # -- the contract's operations ------------------------------------------------------

    async def _invoke(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        problem = check_target_model(name)
        if problem is not None:
            await _reply(send, 400, problem.encode(), _TEXT, (UNAVAILABLE, b"1"))
            return
        loaded = self._models.get(name)
        if loaded is not None:
            self.cache.touch(name)
            extra = [(CACHE_HIT, b"1")]
        else:
            try:
                loaded, timings = await self._ensure(name)
            except ModelNotFound as err:
                await _reply(send, 404, str(err).encode(), _TEXT, (UNAVAILABLE, b"1"))
                return
            except Exception as err:  # a model that does not load fails alone
                await _reply(send, LOAD_FAILED_STATUS, _load_failure(name, err), _TEXT)
                return
            extra = [(CACHE_HIT, b"0"), (WAIT_US, b"%d" % timings.wait_us)]
            if timings.load_us:  # this request loaded it (others waited for its load)
                extra += [
                    (DOWNLOAD_US, b"%d" % timings.download_us),
                    (LOAD_US, b"%d" % max(1, timings.load_us)),
                    (UNLOAD_US, b"%d" % timings.unload_us),
                ]
        extra.append((LOADED_COUNT, b"%d" % len(self._models)))

        async def send_with(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await loaded.app({**scope, "path": "/invocations"}, receive, send_with)

    async def _list(self, send: Send) -> None:
        models = [
            {"modelName": n, "modelUrl": self._models[n].url}
            for n in self.cache.names()
            if n in self._models
        ]
        await _reply(send, 200, json.dumps({"models": models}).encode(), _JSON)

    async def _load_request(self, receive: Receive, send: Send) -> None:
        message = await receive()
        body = message.get("body", b"")
        if message.get("more_body", False) or len(body) > 64 * 1024:
            await _reply(send, 413, b'give {"model_name": NAME} (at most 64 KB)', _TEXT)
            return
        try:
            name = json.loads(body)["model_name"]
            if not isinstance(name, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await _reply(send, 400, b'give a JSON object {"model_name": NAME}', _TEXT)
            return
        problem = check_target_model(name)
        if problem is not None:
            await _reply(send, 400, problem.encode(), _TEXT)
        elif name in self._models:
            await _reply(send, 409, f"model {name} is already loaded".encode(), _TEXT)
        else:
            try:
                await self._ensure(name)
            except ModelNotFound as err:
                await _reply(send, 404, str(err).encode(), _TEXT)
                return
            except Exception as err:
                await _reply(send, LOAD_FAILED_STATUS, _load_failure(name, err), _TEXT)
                return
            await _reply(send, 200, json.dumps({"modelName": name}).encode(), _JSON)

    async def _unload_request(self, name: str, send: Send) -> None:
        if self.cache.remove(name) is None:
            await _reply(send, 404, f"model {name} is not loaded".encode(), _TEXT)
            return
        loaded = self._models.pop(name)
        await asyncio.to_thread(self._source.forget, loaded.path)
        await _reply(send, 200, json.dumps({"modelName": name}).encode(), _JSON)

    # -- loading and unloading ----------------------------------------------------------

    async def _ensure(self, name: str) -> tuple[_Loaded, _Timings]:
        """Load `name`, or wait for the load already under way (one load per model)."""
        started = perf_counter()
        pending = self._loading.get(name)
        if pending is not None:
            loaded = await asyncio.shield(pending)
            return loaded, _Timings(wait_us=(perf_counter() - started) * 1e6)
        future: asyncio.Future[_Loaded] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._loading[name] = future
        try:
            loaded, timings = await self._load(name)
        except BaseException as err:
            future.set_exception(err)
            raise
        else:
            future.set_result(loaded)
        finally:
            del self._loading[name]
        timings.wait_us = (perf_counter() - started) * 1e6
        return loaded, timings

    async def _load(self, name: str) -> tuple[_Loaded, _Timings]:
        if self._load_lock is None or self._fetches is None:
            self._load_lock = asyncio.Lock()
            self._fetches = asyncio.Semaphore(FETCHES_AT_ONCE)
        timings = _Timings()
        began = perf_counter()
        async with self._fetches:
            fetched = await asyncio.to_thread(self._source.fetch, name)
        timings.download_us = (perf_counter() - began) * 1e6
        async with self._load_lock:
            began = perf_counter()
            try:
                app, size = await asyncio.to_thread(self._load_measured, name, fetched)
            except BaseException:
                await asyncio.to_thread(self._source.forget, fetched.path)
                raise
            timings.load_us = max(1.0, (perf_counter() - began) * 1e6)
            loaded = _Loaded(app, fetched.path, self._source.url_of(name))
            self._models[name] = loaded
            evicted = [self._models.pop(e.name) for e in self.cache.add(name, size)]
            if evicted:
                began = perf_counter()
                await asyncio.to_thread(self._forget_all, evicted)
                timings.unload_us = (perf_counter() - began) * 1e6
        return loaded, timings

    def _load_measured(self, name: str, fetched: Fetched) -> tuple[InstanceApp, int]:
        """The model's app and the bytes it is charged: the growth of this process's RSS
        while it loaded, or its files' size when that is larger (ADR 0037)."""
        if self._process is None:
            import psutil

            self._process = psutil.Process()
        before = self._process.memory_info().rss
        model = load(name, fetched.path, self._environment)
        policy = _policy_for(self._policy, model.batchable)
        app = InstanceApp(model, policy, self._max_payload_bytes)
        grown = self._process.memory_info().rss - before
        return app, max(grown, fetched.size)

    def _forget_all(self, evicted: list[_Loaded]) -> None:
        for loaded in evicted:
            self._source.forget(loaded.path)


def _policy_for(policy: BatchPolicy, batchable: bool) -> BatchPolicy:
    return policy if batchable else BatchPolicy(1)


def _retrieve(future: asyncio.Future[_Loaded]) -> None:
    if not future.cancelled():
        future.exception()  # nobody else may be waiting: don't warn about it


def _load_failure(name: str, err: Exception) -> bytes:
    reason = str(err) if isinstance(err, ModelLoadError) else f"{type(err).__name__}: {err}"
    return f"model {name} failed to load: {reason}".encode(errors="replace")


def budget_of(megabytes: str | None, default_mb: float) -> int:
    """Bytes of a TURNOUT_MODEL_CACHE_MB-style setting (fractions allowed); ValueError if bad."""
    value = default_mb if megabytes is None or not megabytes.strip() else float(megabytes)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"the model cache size must be a positive number of MB, not {megabytes}")
    return max(1, int(value * 1024 * 1024))
