"""Running a prediction test: the rows go to the endpoint over the runtime API, a batch of
rows per request with a few requests in flight, and the answers are assessed.

Each request is `POST /endpoints/{name}/invocations` with a JSON list of rows (what the
built-in flavors take); the answer must be a JSON list with one prediction per row (or
`{"predictions": [...]}`). `Target.variant` sets TargetVariant; with `Target.config` too,
the request reaches that config's fleet even at a share of 0 (header
X-Turnout-Endpoint-Config), which is how a deployment tests its green fleet.

A row whose request fails in the model (ModelError, a 5xx) counts as unanswered; a failure
that no row can get past (no such endpoint or variant, turnout unreachable, a refused
signature) ends the test with CheckAborted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from turnout.checks.compare import ATOL, RTOL
from turnout.checks.report import Answers, Report, assess
from turnout.client import Client, ModelError, TurnoutAPIError, TurnoutClientError
from turnout.domain.checks import DEFAULT_BATCH, Json, Row, Task, Threshold

CONCURRENCY = 4  # requests in flight
MAX_ERRORS_KEPT = 5
# Answers to a request that reach no row: the batch is refused as a whole, not the rows.
_ABORTING_STATUS = frozenset({400, 401, 403, 404, 405, 413, 415})

Progress = Callable[[int], None]  # rows answered (or failed) so far, both targets counted


class CheckAborted(Exception):
    """The test cannot run at all; str is one line that says what to do."""


@dataclass(frozen=True)
class Target:
    endpoint: str
    variant: str | None = None  # TargetVariant
    config: str | None = None  # with variant: that config's fleet (e.g. green)

    def describe(self) -> str:
        if self.variant is None:
            return f"endpoint {self.endpoint}"
        if self.config is None:
            return f"variant {self.variant} of endpoint {self.endpoint}"
        return f"variant {self.variant} of {self.config} (endpoint {self.endpoint})"


def run_check(
    client: Client,
    rows: Sequence[Row],
    thresholds: Sequence[Threshold],
    target: Target,
    *,
    task: Task | None = None,
    compare: Target | None = None,
    batch_size: int = DEFAULT_BATCH,
    concurrency: int = CONCURRENCY,
    rtol: float = RTOL,
    atol: float = ATOL,
    timeout: float | None = None,
    on_progress: Progress | None = None,
) -> Report:
    """Send the rows to `target` (and to `compare`), then assess the answers."""
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    done = [0]
    lock = threading.Lock()

    def progressed(n: int) -> None:
        with lock:
            done[0] += n
            total = done[0]
        if on_progress is not None:
            on_progress(total)

    answers = send_rows(client, target, rows, batch_size, concurrency, deadline, progressed)
    reference = None
    if compare is not None:
        reference = send_rows(client, compare, rows, batch_size, concurrency, deadline, progressed)
    resolved, observed, verdicts, disagreements = assess(
        rows, answers, thresholds, task, reference, rtol, atol
    )
    return Report(
        target=target.describe(),
        task=resolved,
        rows=len(rows),
        answers=answers,
        metrics=observed,
        verdicts=verdicts,
        compared_with=compare.describe() if compare is not None else None,
        disagreements=disagreements,
        seconds=time.monotonic() - started,
    )


def send_rows(
    client: Client,
    target: Target,
    rows: Sequence[Row],
    batch_size: int = DEFAULT_BATCH,
    concurrency: int = CONCURRENCY,
    deadline: float | None = None,
    on_progress: Progress | None = None,
) -> Answers:
    """Every row's answer from `target`, `concurrency` requests in flight at most."""
    values: list[Json] = [None] * len(rows)
    answered = [False] * len(rows)
    variants: Counter[str] = Counter()
    errors: list[str] = []
    failed = 0
    starts = list(range(0, len(rows), batch_size))
    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="turnout-check") as pool:
        pending: dict[Future[tuple[list[Json], str]], int] = {}
        next_batch = 0
        try:
            while next_batch < len(starts) or pending:
                while next_batch < len(starts) and len(pending) < concurrency:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise CheckAborted(
                            f"the test did not finish in time: {next_batch * batch_size} of "
                            f"{len(rows)} rows sent"
                        )
                    start = starts[next_batch]
                    batch = rows[start : start + batch_size]
                    pending[pool.submit(_invoke, client, target, batch)] = start
                    next_batch += 1
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    start = pending.pop(future)
                    size = min(batch_size, len(rows) - start)
                    try:
                        predictions, variant = future.result()
                    except _RowsFailed as exc:
                        failed += size
                        if exc.message not in errors and len(errors) < MAX_ERRORS_KEPT:
                            errors.append(exc.message)
                    else:
                        values[start : start + size] = predictions
                        answered[start : start + size] = [True] * size
                        variants[variant] += size
                    if on_progress is not None:
                        on_progress(size)
        finally:
            for future in pending:
                future.cancel()
    return Answers(
        tuple(values), tuple(answered), len(starts), dict(variants), tuple(errors), failed
    )


class _RowsFailed(Exception):
    """A batch got no usable answer; the test goes on without its rows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _invoke(client: Client, target: Target, batch: Sequence[Row]) -> tuple[list[Json], str]:
    body = json.dumps([list(r.inputs) for r in batch], separators=(",", ":"))
    try:
        answer = client.invoke(
            target.endpoint,
            body,
            accept="application/json",
            target_variant=target.variant,
            endpoint_config=target.config,
        )
    except ModelError as exc:
        raise _RowsFailed(f"ModelError: {exc.original_message or exc.message}"[:300]) from None
    except TurnoutAPIError as exc:
        if exc.status in _ABORTING_STATUS:
            raise CheckAborted(_aborting(exc, target)) from None
        raise _RowsFailed(f"{exc.code}: {exc.message}"[:300]) from None
    except TurnoutClientError as exc:
        raise CheckAborted(str(exc)) from None
    try:
        document = answer.json()
    except ValueError:
        raise _RowsFailed(
            f"the answer is not JSON ({answer.content_type}): {answer.text[:80]!r}"
        ) from None
    try:
        return predictions_of(document, len(batch)), answer.variant
    except ValueError as exc:
        raise _RowsFailed(str(exc)) from None


def predictions_of(document: Json, rows: int) -> list[Json]:
    """One prediction per row from an answer: a list of them, `{"predictions": [...]}`, or
    for one row a bare value. ValueError says what was wrong."""
    if isinstance(document, dict) and isinstance(document.get("predictions"), list):
        document = document["predictions"]
    if isinstance(document, list) and len(document) == rows:
        return list(document)
    if rows == 1 and not isinstance(document, dict | list):
        return [document]
    got = f"a list of {len(document)}" if isinstance(document, list) else type(document).__name__
    raise ValueError(
        f"the model answered {got} for {rows} rows; it must answer one prediction per row "
        "(try --batch 1)"
    )


def _aborting(exc: TurnoutAPIError, target: Target) -> str:
    if exc.status == 413:
        return f"{exc.message} (send fewer rows per request with --batch)"
    if exc.status == 404 and target.variant is None:
        return f"{exc.message} (see `turnout endpoint list`)"
    return exc.message
