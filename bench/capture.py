"""The CPU cost of data capture per invocation, in-process: what `routed-capture` adds to
`routed` (bench/routed.py), measured without the noise of a shared machine's HTTP load.

    python bench/capture.py [--records 50000] [--routed-cpu-ms 0.7]

hot path: what the router does for a sampled invocation (header scan, one tuple onto the
bounded queue), per call. writer: the writer thread's work per record (eventId, encoding,
JSON, the batched append to the hourly file), in thread CPU time. Both are CPU the server
spends per captured invocation; divided by routed's server CPU per request (from a
bench/routed.py run, `--routed-cpu-ms`) they give capture's share at 100% sampling.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from turnout.capture.hub import CaptureHub
from turnout.capture.writer import CaptureWriter
from turnout.domain.resources import DataCapture
from turnout.routing.invocation import Invocation, offer_capture
from turnout.routing.upstream import UpstreamResponse

ROW = json.dumps([float(v % 17) for v in range(64)]).encode()  # a digits row, as JSON
RELAYED = [(b"Content-Type", b"application/json"), (b"Accept", b"application/json")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--routed-cpu-ms", type=float, default=0.7,
                        help="routed's server CPU ms/request from bench/routed.py")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="turnout-capture-bench-") as tmp:
        settings = DataCapture(destination=tmp, sampling_percentage=100,
                               json_content_types=("application/json",))  # fmt: skip
        writer = CaptureWriter(max_records=args.records, max_bytes=1 << 30)
        target = CaptureHub(writer, Path(tmp)).for_variant("e", "c", "A", settings)
        assert target is not None
        invocation = Invocation("e", None, [], RELAYED, ROW, 0.0)
        response = UpstreamResponse(200, [(b"Content-Type", b"application/json")], b"[8]")
        started = time.perf_counter()
        for _ in range(args.records):
            offer_capture(target, invocation, response)
        hot_us = (time.perf_counter() - started) / args.records * 1e6
        cpu = time.thread_time()
        writer.drain(final=True)
        writer_us = (time.thread_time() - cpu) / args.records * 1e6
        written = sum(p.read_bytes().count(b"\n") for p in Path(tmp).rglob("*.jsonl"))
    assert written == args.records, (written, args.records)
    total_us = hot_us + writer_us
    share = total_us / (args.routed_cpu_ms * 1000)
    print(f"hot path  {hot_us:6.2f} µs per sampled invocation")
    print(f"writer    {writer_us:6.2f} µs CPU per record ({written} records written)")
    print(f"capture   {total_us:6.2f} µs = {share:.1%} of routed's {args.routed_cpu_ms} ms "
          "server CPU per request, at 100% sampling")  # fmt: skip


if __name__ == "__main__":
    main()
