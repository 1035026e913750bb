"""What a variant route holds when its endpoint config captures data: `VariantCapture`.

The data path calls `offer` for a sampled invocation: it checks one flag and hands a
small tuple to the writer's bounded queue, never waiting. Everything else (record
building, encoding, file I/O) happens in the writer thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from turnout.capture.destination import Destination
from turnout.capture.record import Encoding

# (target, time, inference id, request type, request, response type, response)
Captured = tuple["VariantCapture", float, bytes | None, bytes | None, bytes, bytes | None, bytes]


@dataclass
class CaptureState:
    """Whether capture runs for one (endpoint, endpoint config); shared by its variants."""

    stopped_reason: str | None = None
    # Each counter has one writing thread: `dropped` the data path's (queue full, or capture
    # stopped), the others the writer's (`lost`: queued, then not written after an error).
    captured: int = 0
    dropped: int = 0
    lost: int = 0
    write_errors: int = 0


@dataclass(frozen=True)
class CaptureRules:
    """The part of a DataCaptureConfig the writer applies to each record."""

    destination: Destination
    root: Path  # where files are written: the directory, or the S3 staging directory
    capture_input: bool
    capture_output: bool
    encoding: Encoding


@dataclass(eq=False)
class VariantCapture:
    endpoint: str
    config: str
    variant: str
    fraction: float  # of invocations to capture: one draw of random() < fraction
    rules: CaptureRules
    state: CaptureState
    put: Callable[[Captured], bool] = field(repr=False)

    def offer(
        self,
        inference_id: bytes | None,
        request_type: bytes | None,
        request: bytes,
        response_type: bytes | None,
        response: bytes,
    ) -> None:
        """Queue one invocation for capture (never blocks; counted as dropped if full)."""
        state = self.state
        if state.stopped_reason is not None or not self.put(
            (self, time.time(), inference_id, request_type, request, response_type, response)
        ):
            state.dropped += 1
