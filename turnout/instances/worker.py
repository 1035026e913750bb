"""An instance process: serves one model's `GET /ping` and `POST /invocations`.

    python -m turnout.instances.worker --model-dir DIR --flavor sklearn|inference \\
        --bind unix:/path.sock|tcp:127.0.0.1:PORT [--max-payload-bytes N]

The model's environment is this process's environment (e.g. SAGEMAKER_PROGRAM,
TURNOUT_SKLEARN_METHOD). The model loads before the address is bound, so `/ping` answers
200 as soon as it answers at all. A model that cannot load prints one line,
`turnout worker: cannot load model: <reason>`, and exits with status 3.

This is the hot path: a raw ASGI callable on uvicorn (uvloop + httptools), no framework,
and the prediction runs inline on the event loop, because a sub-millisecond predict costs
less than a hand-off to a thread. A hanging model therefore also stops /ping from
answering, which is how the supervisor notices it. SIGTERM drains in-flight requests and
exits 0.

The worker dies with its parent (see `turnout.instances.lifeline`): a `kill -9` of turnout
serve leaves no orphaned instances.
"""

from __future__ import annotations

# Only light imports at module level (numpy, sklearn and uvicorn load later), so that the
# parent-death check runs early.
import argparse
import os
import signal
import stat
import sys
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from types import FrameType
from typing import Any

from turnout.domain.resources import Flavor
from turnout.instances.backend import Address
from turnout.instances.lifeline import die_with_parent
from turnout.models.predictor import InvocationError, ModelLoadError, Predictor, load_predictor
from turnout.settings import MAX_PAYLOAD_BYTES

LOAD_FAILED = 3
PREFIX = "turnout worker: "

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"
_CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"


class InstanceApp:
    """The raw ASGI app: routing by path, one pass over the headers, inline invoke."""

    __slots__ = ("_invoke", "_max_payload_bytes", "_too_large")

    def __init__(self, predictor: Predictor, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> None:
        self._invoke = predictor.invoke
        self._max_payload_bytes = max_payload_bytes
        self._too_large = f"the request body is larger than {max_payload_bytes} bytes".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/invocations":
            if scope["method"] == "POST":
                await self._invocations(scope, receive, send)
            else:
                await _reply(send, 405, b"use POST /invocations", _TEXT, (b"allow", b"POST"))
        elif path == "/ping":
            if scope["method"] == "GET":
                await _reply(send, 200, b"{}", _JSON)
            else:
                await _reply(send, 405, b"use GET /ping", _TEXT, (b"allow", b"GET"))
        else:
            await _reply(send, 404, b"not found: use GET /ping or POST /invocations", _TEXT)

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = accept = attributes = None
        declared = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == _CUSTOM_ATTRIBUTES:
                attributes = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                declared = int(value)
        limit = self._max_payload_bytes
        if declared > limit:  # refuse before reading any of it
            await self._reply_too_large(send)
            return

        message = await receive()
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):
            chunks = [body]
            size = len(body)
            while message.get("more_body", False):
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:  # chunked upload without a Content-Length
                    await self._reply_too_large(send)
                    return
                chunks.append(chunk)
            body = b"".join(chunks)
        elif message["type"] == "http.disconnect":
            return
        if len(body) > limit:
            await self._reply_too_large(send)
            return

        try:
            prediction = self._invoke(body, content_type, accept, attributes)
        except InvocationError as err:
            await _reply(send, err.status, err.message.encode(errors="replace"), _TEXT)
            return
        except (Exception, SystemExit) as err:  # a request must never take the worker down
            message_text = f"{type(err).__name__}: {err}"
            await _reply(send, 500, message_text.encode(errors="replace"), _TEXT)
            return
        payload = prediction.body
        headers = [
            (b"content-type", prediction.content_type.encode("latin-1", "replace")),
            (b"content-length", str(len(payload)).encode()),
        ]
        if prediction.custom_attributes is not None:
            headers.append(
                (_CUSTOM_ATTRIBUTES, prediction.custom_attributes.encode("latin-1", "replace"))
            )
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _reply_too_large(self, send: Send) -> None:
        # Close the connection rather than drain an oversized upload to keep it alive.
        await _reply(send, 413, self._too_large, _TEXT, (b"connection", b"close"))


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: tuple[bytes, bytes] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra is not None:
        headers.append(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m turnout.instances.worker",
        description="Serve one model's /ping and /invocations.",
    )
    parser.add_argument("--model-dir", required=True, type=Path)
    parser.add_argument("--flavor", required=True, choices=("sklearn", "inference"))
    parser.add_argument("--bind", required=True, type=Address.parse, metavar="ADDRESS")
    parser.add_argument("--max-payload-bytes", type=int, default=MAX_PAYLOAD_BYTES)
    args = parser.parse_args(argv)
    if args.max_payload_bytes <= 0:
        parser.error("--max-payload-bytes must be positive")
    return args


def _load(model_dir: Path, flavor: str) -> Predictor:
    """Load the model or exit(3) with one line (a traceback too if TURNOUT_DEBUG=1)."""
    from turnout.models.requirements import check_requirements

    for warning in check_requirements(model_dir):
        print(f"{PREFIX}warning: {warning}", file=sys.stderr)
    try:
        return load_predictor(model_dir, Flavor(flavor), os.environ)
    except (Exception, SystemExit) as err:
        if os.environ.get("TURNOUT_DEBUG") == "1":
            traceback.print_exc()
        reason = str(err) if isinstance(err, ModelLoadError) else f"{type(err).__name__}: {err}"
        print(f"{PREFIX}cannot load model: {reason}", file=sys.stderr, flush=True)
        sys.exit(LOAD_FAILED)


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(predictor: Predictor, address: Address, max_payload_bytes: int) -> None:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests and return."""
    import importlib.util

    import uvicorn

    if address.path is not None:
        try:
            if stat.S_ISSOCK(os.stat(address.path).st_mode):
                os.unlink(address.path)  # left behind by a killed predecessor
        except FileNotFoundError:
            pass
    config = uvicorn.Config(
        InstanceApp(predictor, max_payload_bytes),
        uds=address.path,
        host=address.host or "127.0.0.1",
        port=address.port or 0,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "auto",
        http="httptools" if importlib.util.find_spec("httptools") else "auto",
        interface="asgi3",
        lifespan="off",
        ws="none",
        proxy_headers=False,  # else uvicorn wraps the app in a middleware
        server_header=False,
        access_log=False,
        log_level="warning",
        # The router pools keep-alive connections; don't drop them when idle.
        timeout_keep_alive=3600,
    )
    # uvicorn drains on SIGTERM/SIGINT, then re-raises the signal under the handler it
    # found: make that handler a clean exit 0 instead of death by signal.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    uvicorn.Server(config).run()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    die_with_parent()
    predictor = _load(args.model_dir, args.flavor)
    try:
        serve(predictor, args.bind, args.max_payload_bytes)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
