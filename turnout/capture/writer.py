"""The capture writer: a thread that turns queued invocations into JSON Lines files.

The data path only appends to a bounded list under a lock (`put`); every `interval` the
thread takes the whole list, builds the records and appends each variant's lines to its
current file in one write. A file ends at the hour (SageMaker's hourly folders), at
`max_file_bytes`, or, for an S3 destination, after `roll_seconds`, when it is uploaded.

An OSError while writing (ENOSPC, a read-only or missing directory, ...) stops capture for
that endpoint config, with the reason DescribeEndpoint shows; the endpoint keeps serving.
Every `resume_after` seconds the writer probes where that capture writes (a page-sized
file, written and removed) and starts it again once the probe succeeds: capture comes back
once space does, without anyone having to notice (ADR 0033).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from random import getrandbits

from turnout.capture.files import Append, Segment, append, new_segment
from turnout.capture.record import OCTET_STREAM, record_line
from turnout.capture.target import Captured, VariantCapture

log = logging.getLogger("turnout.capture")

RESUME_AFTER = 10.0  # s between probes of a capture stopped by a write error
PROBE_NAME = ".turnout-probe"  # not *.jsonl: readers of the capture files skip it
_PROBE = b"\n" * 4096  # a page: on a full filesystem even this much fails

# Uploads a closed local file to (bucket, key); raises on failure.
Upload = Callable[[Path, str, str], None]


class CaptureWriter:
    def __init__(
        self,
        *,
        max_records: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_file_bytes: int = 64 * 1024 * 1024,
        interval: float = 0.1,
        roll_seconds: float = 60.0,
        append_to: Append = append,
        upload: Upload | None = None,
        resume_after: float = RESUME_AFTER,
    ) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._max_file_bytes = max_file_bytes
        self._interval = interval
        self._roll_seconds = roll_seconds
        self._append = append_to
        self._upload = upload
        self._resume_after = resume_after
        self._stopped: list[tuple[VariantCapture, float]] = []  # stopped, last probed at
        self._now = 0.0  # the time of the drain in progress
        self._lock = threading.Lock()
        self._queue: list[Captured] = []
        self._queued_bytes = 0
        self._segments: dict[VariantCapture, Segment] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Totals over all endpoints (per endpoint: CaptureState), for metrics.
        self.dropped = 0  # queue full (data path's counter)
        self.captured = 0
        self.write_errors = 0

    # --- the data path's side ------------------------------------------------------------
    def put(self, item: Captured) -> bool:
        """Queue `item`; False (nothing queued) when the queue is full."""
        size = len(item[4]) + len(item[6])
        with self._lock:
            if len(self._queue) >= self.max_records or self._queued_bytes + size > self.max_bytes:
                self.dropped += 1
                return False
            self._queue.append(item)
            self._queued_bytes += size
        return True

    # --- the thread ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="capture writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, close (and upload) the open files; bounded by `timeout`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self.drain(final=True)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            try:
                self.drain(final=stopping)
            except Exception:  # never let the thread die: capture would stop silently
                log.exception("capture writer failed; records of this batch are lost")
            if stopping:
                return

    def drain(self, final: bool = False, now: float | None = None) -> None:
        """Write everything queued, then end the files due (all of them if `final`)."""
        self._now = time.time() if now is None else now
        with self._lock:
            batch, self._queue, self._queued_bytes = self._queue, [], 0
        if batch:
            self._write(batch)
        self._roll(self._now, final)
        self._resume(self._now)

    def _resume(self, now: float) -> None:
        """Probe the captures stopped `resume_after` ago or longer; start those that pass."""
        due = [target for target, at in self._stopped if now - at >= self._resume_after]
        if not due:
            return
        self._stopped = [(t, at) for t, at in self._stopped if now - at < self._resume_after]
        for target in due:
            state = target.state
            if state.stopped_reason is None:
                continue
            try:
                self._probe(target)
            except OSError:
                self._stopped.append((target, now))  # not yet: probe again later
                continue
            log.info("endpoint %s: data capture resumes (it had stopped: %s)",
                     target.endpoint, state.stopped_reason)  # fmt: skip
            state.stopped_reason = None

    def _probe(self, target: VariantCapture) -> None:
        """Write and remove a page where the target's files go; OSError if that fails."""
        path = str(target.rules.root / target.endpoint / target.variant / PROBE_NAME)
        try:
            self._append(path, _PROBE)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _write(self, batch: list[Captured]) -> None:
        lines: dict[VariantCapture, list[bytes]] = {}
        for item in batch:
            target, at = item[0], item[1]
            if target.state.stopped_reason is not None:
                target.state.lost += 1
                continue
            segment = self._segments.get(target)
            if segment is None or segment.hour != int(at // 3600):
                if segment is not None:
                    self._flush(target, lines.pop(target, []))
                    self._end(target)
                segment = self._segments[target] = new_segment(target.endpoint, target.variant, at)
            lines.setdefault(target, []).append(_line(item))
        for target, chunk in lines.items():
            self._flush(target, chunk)

    def _flush(self, target: VariantCapture, chunk: list[bytes]) -> None:
        segment = self._segments.get(target)
        if not chunk or segment is None or target.state.stopped_reason is not None:
            target.state.lost += len(chunk)
            return
        data = b"".join(chunk)
        try:
            self._append(str(target.rules.root / segment.path), data)
        except OSError as exc:
            self._fail(target, f"writing {target.rules.root / segment.path}", exc, len(chunk))
            return
        segment.size += len(data)
        target.state.captured += len(chunk)
        self.captured += len(chunk)
        if segment.size >= self._max_file_bytes:
            self._end(target)

    def _roll(self, now: float, final: bool) -> None:
        """End the files of a past hour, and (S3) those open for `roll_seconds`."""
        hour = int(now // 3600)
        for target, segment in list(self._segments.items()):
            aged = now - segment.opened_at >= self._roll_seconds
            if final or segment.hour != hour or (aged and target.rules.destination.is_s3):
                self._end(target)

    def _end(self, target: VariantCapture) -> None:
        segment = self._segments.pop(target, None)
        destination = target.rules.destination
        if segment is None or not destination.is_s3 or segment.size == 0:
            return
        local = target.rules.root / segment.path
        key = "/".join(p for p in (destination.prefix, str(segment.path)) if p)
        if self._upload is None:
            self._fail(target, f"uploading to s3://{destination.bucket}/{key}",
                       OSError("no S3 client is configured"), 0)  # fmt: skip
            return
        try:
            self._upload(local, destination.bucket, key)
        except Exception as exc:  # boto3 raises its own errors; the file stays in staging
            self._fail(target, f"uploading to s3://{destination.bucket}/{key}", exc, 0)
            return
        with contextlib.suppress(OSError):
            os.unlink(local)

    def _fail(self, target: VariantCapture, doing: str, exc: Exception, lost: int) -> None:
        state = target.state
        state.lost += lost
        state.write_errors += 1
        self.write_errors += 1
        if state.stopped_reason is None:
            reason = f"Data capture stopped: {doing} failed: {_describe(exc)}"
            state.stopped_reason = reason
            self._stopped.append((target, self._now))
            log.warning("endpoint %s: %s; the endpoint keeps serving", target.endpoint, reason)


def _line(item: Captured) -> bytes:
    target, at, inference_id, request_type, request, response_type, response = item
    rules = target.rules
    return record_line(
        event_id=str(uuid.UUID(int=getrandbits(128), version=4)),  # no syscall, unlike uuid4
        at=at,
        inference_id=inference_id.decode("utf-8", "replace") if inference_id else None,
        request=(_type(request_type), request) if rules.capture_input else None,
        response=(_type(response_type), response) if rules.capture_output else None,
        encoding=rules.encoding,
    )


def _type(content_type: bytes | None) -> str:
    return content_type.decode("latin-1") if content_type else OCTET_STREAM


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (" (the disk is full)" if exc.errno == errno.ENOSPC else "")
    return str(exc) or type(exc).__name__
