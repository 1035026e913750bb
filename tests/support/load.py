"""A load generator for e2e tests, run as its own process so it does not share our GIL.

    python -m tests.support.load --url http://127.0.0.1:PORT --endpoint NAME --out FILE
        [--concurrency 8] [--requests N] [--duration S] [--target-variant V]
        [--body JSON] [--content-type TYPE] [--timeout S] [--trace FILE]

`concurrency` workers each keep one HTTP/1.1 keep-alive connection and send invocations
back to back. It stops by itself after `--requests` invocations or `--duration` seconds,
whichever comes first, or at SIGTERM/SIGINT; each request is bounded by `--timeout`. It
only talks to loopback addresses.

`--out` is rewritten (atomically) every 0.2 s and once more at the end, so a test can watch
progress while the load runs. It holds the counts of a `LoadResult`: total, ok, failed,
failures by status and by SageMaker error type, successes by invoked production variant,
and a few failure samples. `--trace` also writes every request, at the end, as JSON lines
`[sent at, answered at, status, invoked variant]` (wall-clock seconds), so a test can tell
which requests fell in which step of a deployment. `LoadProcess` starts, watches and stops
it from a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

TRANSPORT = "transport"  # the status and error type recorded when no HTTP answer came
MAX_SAMPLES = 5
PROGRESS_INTERVAL = 0.2


@dataclass
class LoadResult:
    total: int = 0
    ok: int = 0
    failed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # failures only
    by_error: dict[str, int] = field(default_factory=dict)  # failures, by x-amzn-ErrorType
    by_variant: dict[str, int] = field(default_factory=dict)  # successes, by invoked variant
    ok_without_variant: int = 0  # successes missing x-Amzn-Invoked-Production-Variant
    samples: list[str] = field(default_factory=list)  # the first few failures, for messages
    finished: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        return cls(**data)

    def describe(self) -> str:
        """One line for assertion messages."""
        return (
            f"{self.total} requests, {self.ok} ok, {self.failed} failed "
            f"{self.by_status} {self.by_error}, variants {self.by_variant}; "
            f"samples: {self.samples}"
        )


# -- the generator (runs in the child process) -------------------------------------------


class _Tally:
    def __init__(self) -> None:
        self.result = LoadResult()
        self.trace: list[tuple[float, float, str, str | None]] = []
        self._status: Counter[str] = Counter()
        self._error: Counter[str] = Counter()
        self._variant: Counter[str] = Counter()

    def record(self, status: str, error: str | None, variant: str | None, detail: str) -> None:
        result = self.result
        result.total += 1
        if status == "200":
            result.ok += 1
            if variant:
                self._variant[variant] += 1
            else:
                result.ok_without_variant += 1
            return
        result.failed += 1
        self._status[status] += 1
        self._error[error or "none"] += 1
        if len(result.samples) < MAX_SAMPLES:
            result.samples.append(f"{status} {error}: {detail[:300]}")

    def snapshot(self, finished: bool = False) -> LoadResult:
        result = self.result
        result.by_status = dict(self._status)
        result.by_error = dict(self._error)
        result.by_variant = dict(self._variant)
        result.finished = finished
        return result


@dataclass(frozen=True)
class _Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


async def _read_response(reader: asyncio.StreamReader) -> _Response:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is None or not length.isdigit():
        raise ConnectionError("answer without a Content-Length")
    return _Response(status, headers, await reader.readexactly(int(length)))


class _Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        url = urlsplit(args.url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.args = args
        self.tally = _Tally()
        self.stop = asyncio.Event()
        self.issued = 0
        self.deadline = time.monotonic() + args.duration
        self.request = self._request_bytes()

    def _request_bytes(self) -> bytes:
        args = self.args
        body = args.body.encode()
        lines = [
            f"POST /endpoints/{args.endpoint}/invocations HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Type: {args.content_type}",
            f"Content-Length: {len(body)}",
        ]
        if args.target_variant:
            lines.append(f"X-Amzn-SageMaker-Target-Variant: {args.target_variant}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _take_ticket(self) -> bool:
        if self.stop.is_set() or time.monotonic() >= self.deadline:
            return False
        if self.args.requests and self.issued >= self.args.requests:
            return False
        self.issued += 1
        return True

    async def _worker(self) -> None:
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        try:
            while self._take_ticket():
                sent = time.time()
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(
                            asyncio.open_connection(self.host, self.port), self.args.timeout
                        )
                    assert reader is not None
                    writer.write(self.request)
                    response = await asyncio.wait_for(_read_response(reader), self.args.timeout)
                except (OSError, EOFError, TimeoutError, ValueError, asyncio.IncompleteReadError,
                        asyncio.LimitOverrunError) as exc:  # fmt: skip
                    self.tally.record(TRANSPORT, TRANSPORT, None, f"{type(exc).__name__}: {exc}")
                    if self.args.trace:
                        self.tally.trace.append((sent, time.time(), TRANSPORT, None))
                    if writer is not None:
                        writer.close()
                    writer = reader = None
                    continue
                headers = response.headers
                if self.args.trace:
                    variant = headers.get("x-amzn-invoked-production-variant")
                    self.tally.trace.append((sent, time.time(), str(response.status), variant))
                self.tally.record(
                    str(response.status),
                    headers.get("x-amzn-errortype"),
                    headers.get("x-amzn-invoked-production-variant"),
                    response.body.decode("utf-8", "replace"),
                )
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    writer = reader = None
        finally:
            if writer is not None:
                writer.close()

    async def _report(self) -> None:
        while not self.stop.is_set():
            _write_atomically(self.args.out, self.tally.snapshot())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), PROGRESS_INTERVAL)

    async def run(self) -> LoadResult:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        reporter = asyncio.create_task(self._report())
        await asyncio.gather(*(self._worker() for _ in range(self.args.concurrency)))
        self.stop.set()
        await reporter
        result = self.tally.snapshot(finished=True)
        if self.args.trace:  # before the final counts, which say "finished"
            lines = "".join(json.dumps(t) + "\n" for t in self.tally.trace)
            self.args.trace.write_text(lines)
        _write_atomically(self.args.out, result)
        return result


def _write_atomically(path: Path, result: LoadResult) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(asdict(result)))
    os.replace(partial, path)


def _loopback(url: str) -> str:
    """The URL if its host is a loopback address; this tool must never load anything else."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        raise argparse.ArgumentTypeError(f"{url}: only http:// URLs are supported")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise argparse.ArgumentTypeError(f"{url}: only loopback addresses are allowed")
    return url


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.load", description=__doc__)
    parser.add_argument("--url", required=True, type=_loopback)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=0, help="stop after N (0: no count)")
    parser.add_argument("--duration", type=float, default=60.0, help="stop after S seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--target-variant")
    parser.add_argument("--body", default="[" + ",".join(["0.0"] * 64) + "]")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--trace", type=Path, help="write every request here at the end")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be within 1..256")
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be within (0, 3600] seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    asyncio.run(_Generator(args).run())
    return 0


# -- the test side ---------------------------------------------------------------------


class LoadProcess:
    """The generator in a child process; a context manager that stops it (by PID) on exit."""

    def __init__(self, out: Path, url: str, endpoint: str, **options: object) -> None:
        self.out = out
        argv = [sys.executable, "-m", "tests.support.load", "--url", url,
                "--endpoint", endpoint, "--out", str(out)]  # fmt: skip
        for name, value in options.items():
            if value is not None:
                argv += [f"--{name.replace('_', '-')}", str(value)]
        self.argv = argv
        self.stderr_path = out.with_name(out.name + ".stderr")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LoadProcess:
        self.out.unlink(missing_ok=True)
        root = Path(__file__).resolve().parents[2]  # so `-m tests.support.load` resolves
        # A file, not a pipe: nobody reads a pipe while the load runs, and a full one blocks.
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                self.argv, cwd=root, stdin=subprocess.DEVNULL, stderr=stderr
            )
        return self

    def snapshot(self) -> LoadResult:
        """The counts so far (all zero before the first report)."""
        try:
            return LoadResult.from_json(json.loads(self.out.read_text()))
        except (OSError, ValueError):
            return LoadResult()

    def wait_for(self, total: int, timeout: float = 30.0) -> LoadResult:
        """Wait until at least `total` requests were answered; fail if it exits or stalls."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            result = self.snapshot()
            if result.total >= total:
                return result
            if self.process.poll() is not None:
                raise AssertionError(f"load generator exited early: {self._stderr()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"load reached {result.total}/{total} in {timeout:g} s")
            time.sleep(0.05)

    def finish(self, timeout: float = 120.0) -> LoadResult:
        """Wait for it to stop by itself (its --requests / --duration)."""
        assert self.process is not None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"load generator still running after {timeout:g} s") from None
        return self._final()

    def stop(self, timeout: float = 30.0) -> LoadResult:
        """SIGTERM: workers finish their request in flight, the final counts are written."""
        assert self.process is not None
        # Its SIGTERM handler is set when it starts running, just before its first report:
        # a SIGTERM sent earlier (a busy machine, a generator still importing) would kill it.
        deadline = time.monotonic() + timeout
        while not self.out.exists() and self.process.poll() is None:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self._final()

    def trace(self) -> list[tuple[float, float, str, str | None]]:
        """Every request (sent at, answered at, status, variant), once it has finished;
        started with `trace=PATH`."""
        path = Path(self.argv[self.argv.index("--trace") + 1])
        return [tuple(json.loads(line)) for line in path.read_text().splitlines()]

    def _final(self) -> LoadResult:
        assert self.process is not None
        result = self.snapshot()
        if self.process.returncode != 0 or not result.finished:
            raise AssertionError(
                f"load generator ended with status {self.process.returncode}: {self._stderr()}"
            )
        return result

    def _stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no output)"

    def __enter__(self) -> LoadProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    sys.exit(main())
