"""The CPU cost of one drift monitoring pass, in-process, against its own baseline: reading
the capture files of the window (the least any pass must do) versus reading, decoding and
computing the drift report (KS, PSI, chi-square) and storing it.

    python bench/drift.py [--records 20000] [--rows-per-record 1] [--features 10] [--repeat 3]

Capture files are written with turnout's own record format and layout into a temp dir;
the store is a temp SQLite file. Figures are process CPU seconds (time.process_time), best
of --repeat, so a shared machine's other load does not count.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from turnout.capture.files import append, new_segment
from turnout.capture.record import Encoding, record_line
from turnout.drift import reader, records
from turnout.drift.baseline import compute, to_document
from turnout.drift.drift import report
from turnout.drift.monitor import report_document
from turnout.store import Store
from turnout.store.drift import DriftStore

CSV = Encoding.of(["text/csv"], [])


def write_capture(root: Path, n: int, per: int, features: int, now: float) -> None:
    rng = random.Random(1)
    lines = []
    for i in range(n):
        body = "\n".join(
            ",".join(f"{rng.gauss(0, 1):.4f}" for _ in range(features)) for _ in range(per)
        )
        at = now - 50 + 50 * i / n
        request, response = ("text/csv", body.encode()), ("text/csv", b"1\n" * per)
        lines.append(
            record_line(event_id=str(i), at=at, inference_id=None, request=request,
                        response=response, encoding=CSV)
        )  # fmt: skip
    segment = new_segment("ep", "A", now - 50)
    append(str(root / segment.path), b"".join(lines))


def best(repeat: int, work: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        work()  # type: ignore[operator]
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rows-per-record", type=int, default=1)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    now = time.time()
    rng = random.Random(0)
    header = [f"f{i}" for i in range(args.features)]
    training = [[f"{rng.gauss(0, 1):.4f}" for _ in header] for _ in range(20_000)]
    baseline = compute(header, training)
    import scipy.stats  # noqa: F401 - imported before timing, as a warm server has it

    with tempfile.TemporaryDirectory(prefix="turnout-drift-bench-") as tmp:
        root = Path(tmp)
        write_capture(root / "capture", args.records, args.rows_per_record, args.features, now)
        store = Store.open(f"sqlite:///{root / 'db.sqlite'}")
        rows = DriftStore(store)
        rows.put_baseline("ep", to_document(baseline), now)
        dest = str(root / "capture")

        def read_only() -> None:
            reader.lines(dest, "ep", "A", now - 60, now + 1)

        def full_pass() -> None:
            decoded = records.decode(reader.lines(dest, "ep", "A", now - 60, now + 1))
            rows.add_report("ep", "A", now, report_document(report(baseline, decoded.rows)))

        base, full = best(args.repeat, read_only), best(args.repeat, full_pass)
    n_rows = args.records * args.rows_per_record
    print(f"{args.records} records, {n_rows} rows x {args.features} features")
    print(f"baseline  read the window's capture lines: {base:.3f} s CPU")
    print(f"drift     read + decode + report + store:  {full:.3f} s CPU "
          f"({full / base:.1f}x the read; {1e6 * full / n_rows:.1f} us per row)")  # fmt: skip


if __name__ == "__main__":
    main()
