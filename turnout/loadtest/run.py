"""One load test, start to finish: check the endpoint, sample its instances in a thread,
run the generator on an event loop of its own (uvloop when installed), build the report."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from turnout.client import Client, Credentials, EndpointInfo
from turnout.loadtest.data import RequestData
from turnout.loadtest.generator import Generator, Outcome, Progress
from turnout.loadtest.report import build_report
from turnout.loadtest.requests import RequestHeads, Target
from turnout.loadtest.sampler import InstanceSampler
from turnout.loadtest.shape import Shape


class LoadTestError(Exception):
    """The load test cannot run; str is one line saying what to do."""


@dataclass(frozen=True)
class Options:
    timeout: float = 30.0
    max_requests: int | None = None
    max_connections: int = 256
    target_variant: str | None = None
    sample_interval: float = 1.0


def split_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise LoadTestError(f"{url}: give an http:// URL of a turnout server")
    return parts.hostname, parts.port or 80


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_load_test(
    client: Client,
    endpoint: str,
    data: RequestData,
    shape: Shape,
    options: Options = Options(),
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Drive `endpoint` with `shape` and return the report (report.py). Blocks."""
    host, port = split_url(client.url)
    described = client.describe_endpoint(endpoint)  # a missing endpoint fails here, once
    if described["status"] not in ("InService", "Updating"):
        raise LoadTestError(
            f"endpoint {endpoint} is {described['status']}: wait until it is InService "
            f"(turnout endpoint wait {endpoint})"
        )
    heads = RequestHeads(
        Target(host, port, endpoint, options.target_variant),
        data,
        client.credentials,
        client.region,
    )
    generator = Generator(
        heads,
        shape,
        timeout=options.timeout,
        max_requests=options.max_requests,
        max_connections=options.max_connections,
        on_progress=on_progress,
    )
    url = client.url
    describer = _Describer(url, client.credentials, endpoint)
    sampler = InstanceSampler(
        describer, time.monotonic(), local=is_loopback(host), interval=options.sample_interval
    )
    sampler.start()
    try:
        outcome = run_generator(generator)
    finally:
        samples = sampler.stop()
        describer.close()
    return build_report(
        endpoint=endpoint,
        url=url,
        shape=shape,
        data=data,
        outcome=outcome,
        samples=samples,
        settings={
            "timeout_s": options.timeout,
            "max_requests": options.max_requests,
            "max_connections": options.max_connections,
            "target_variant": options.target_variant,
            "instance_source": "psutil" if is_loopback(host) else "api",
        },
    )


class _Describer:
    """Describes the endpoint for the sampler, with a client of its own made on first use
    (in the sampler's thread)."""

    def __init__(self, url: str, credentials: Credentials | None, endpoint: str) -> None:
        self._url, self._credentials, self._endpoint = url, credentials, endpoint
        self._client: Client | None = None

    def __call__(self) -> EndpointInfo:
        if self._client is None:
            self._client = Client(self._url, timeout=5.0, credentials=self._credentials)
        return self._client.describe_endpoint(self._endpoint)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def run_generator(generator: Generator) -> Outcome:
    """Run `generator` on an event loop of its own (uvloop when installed); Ctrl-C ends the
    run early (the outcome says so) instead of raising."""

    async def main() -> Outcome:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError, ValueError):  # not the main thread: none
            loop.add_signal_handler(signal.SIGINT, generator.request_stop, "interrupted (Ctrl-C)")
        try:
            return await generator.run()
        finally:
            with contextlib.suppress(RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)

    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())
