"""`turnout size`: try settings on a scratch endpoint and recommend the smallest that holds.

The scratch endpoint serves the sized variant's model (same artifact, flavor, command and
environment; batching variables set per batching setting) under its own names,
`size-<endpoint>-<n>` for the model, the endpoint config and the endpoint, so the real
endpoint never takes sizing traffic. Instance counts change in place (UpdateEndpointWeights
AndCapacities); each batching setting gets its own scratch model and endpoint. Everything
scratch is deleted at the end, also after an error or Ctrl-C.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from turnout.client import Client, EndpointInfo, TurnoutAPIError, Variant, WaitTimeout
from turnout.domain.names import MAX_NAME_LENGTH
from turnout.loadtest.data import RequestData
from turnout.loadtest.generator import Progress
from turnout.loadtest.run import LoadTestError, Options, run_load_test
from turnout.loadtest.shape import Mode, Segment, Shape
from turnout.loadtest.sizing import (
    Batching,
    Trial,
    capacity,
    judge,
    next_trial,
    recommend,
)

SWEEP = (1, 2, 4, 8, 16, 32)  # concurrencies of a sweep (no target rate)
WARMUP = 1.0  # seconds of load before each measured segment
READY_TIMEOUT = 180.0
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class SizingSpec:
    endpoint: str
    data: RequestData
    p99_ms: float
    target_rps: float | None
    batchings: tuple[Batching, ...]
    max_instances: int = 4
    duration: float = 5.0
    variant: str | None = None


class Events:
    """What the sizer tells whoever watches (the CLI's progress display)."""

    def step(self, text: str) -> None: ...

    def trial(self, trial: Trial, total: int) -> None: ...

    def load(self, progress: Progress) -> None: ...


def sized_variant(client: Client, endpoint: str, variant: str | None) -> tuple[str, Any]:
    """(variant name, its model's description) of the endpoint's variant to size: the one
    named, else the only one, else the one with the most weight."""
    described = client.describe_endpoint(endpoint)
    config = client.describe_endpoint_config(described["config"])
    variants = config["variants"]
    if variant is not None:
        chosen = next((v for v in variants if v["name"] == variant), None)
        if chosen is None:
            names = ", ".join(v["name"] for v in variants)
            raise LoadTestError(f"endpoint {endpoint} has no variant {variant} (it has {names})")
    else:
        chosen = max(variants, key=lambda v: v["weight"])
    return chosen["name"], client.describe_model(chosen["model"])


def scratch_prefix(client: Client, endpoint: str) -> str:
    """`size-<endpoint>-<n>`, with n making it unused by any endpoint, config or model."""
    taken = {e["name"] for e in client.list_endpoints()}
    taken |= {c["name"] for c in client.list_endpoint_configs()}
    taken |= {m["name"] for m in client.list_models()}
    stem = f"size-{endpoint}"[: MAX_NAME_LENGTH - 8].rstrip("-")
    n = 1
    while any(name.startswith(f"{stem}-{n}") for name in taken):
        n += 1
    return f"{stem}-{n}"


@contextmanager
def scratch_endpoint(
    client: Client,
    name: str,
    variant: str,
    model: Any,
    batching: Batching,
    events: Events,
) -> Iterator[str]:
    """A scratch model + config + endpoint named `name`, InService with one instance;
    deleted on the way out, whatever happens."""
    environment = {**model["environment"], **batching.environment()}
    created: list[str] = []
    try:
        events.step(f"{name}: creating ({batching.label})")
        client.create_model(name, model["artifact"], model["flavor"], model["command"], environment)
        created.append("model")
        client.create_endpoint_config(name, [Variant(variant, name, 1)])
        created.append("config")
        client.create_endpoint(name, name)
        created.append("endpoint")
        client.wait_for_endpoint(name, timeout=READY_TIMEOUT)
        yield name
    finally:
        events.step(f"{name}: deleting")
        _delete(client, name, created)


def _delete(client: Client, name: str, created: list[str]) -> None:
    for kind in reversed(created):
        try:
            if kind == "endpoint":
                client.delete_endpoint(name)
                client.wait_for_deleted(name, timeout=60)
            elif kind == "config":
                client.delete_endpoint_config(name)
            else:
                client.delete_model(name)
        except (TurnoutAPIError, WaitTimeout):
            pass  # gone already, or the server says why in its log


def scale(client: Client, name: str, variant: str, count: int) -> EndpointInfo:
    """Set the scratch variant's instance count and wait until that many are ready."""
    client.update_traffic(name, instance_counts={variant: count})
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        endpoint = client.describe_endpoint(name)
        state = next(v for v in endpoint["variants"] if v["name"] == variant)
        ready = sum(i["ready"] for i in state["instances"])
        if endpoint["status"] == "InService" and ready == count == len(state["instances"]):
            return endpoint
        if time.monotonic() > deadline:
            raise WaitTimeout(
                f"{name}: {ready} of {count} instances ready after {READY_TIMEOUT:g} s"
            )
        time.sleep(0.2)


def size_endpoint(client: Client, spec: SizingSpec, events: Events) -> dict[str, Any]:
    """Run the trials and return the sizing document (docs/load-tests.md)."""
    variant, model = sized_variant(client, spec.endpoint, spec.variant)
    prefix = scratch_prefix(client, spec.endpoint)
    trials: list[Trial] = []
    rows: list[dict[str, Any]] = []
    total = len(spec.batchings) * spec.max_instances
    timeout = max(2.0, 10 * spec.p99_ms / 1000)
    options = Options(timeout=timeout, max_connections=256)
    for index, batching in enumerate(spec.batchings):
        counts = _counts(spec, trials, index)
        if not counts:
            continue
        with scratch_endpoint(
            client, f"{prefix}-{index + 1}", variant, model, batching, events
        ) as name:
            while counts:
                count = counts[0]
                events.step(f"{name}: {count} instance(s), batching {batching.label}")
                scale(client, name, variant, count)
                report = run_load_test(client, name, spec.data, _shape(spec), options, events.load)
                if (report["stopped_early"] or "").startswith(INTERRUPTED):
                    raise KeyboardInterrupt
                trial, row = _judge(spec, count, index, batching, report)
                trials.append(trial)
                rows.append(row)
                events.trial(trial, total)
                if spec.target_rps is None and _stalled(trials, index):
                    break
                counts = _counts(spec, trials, index)
    best = recommend(trials)
    return {
        "endpoint": spec.endpoint,
        "variant": variant,
        "model": model["name"],
        "target": {"p99_ms": spec.p99_ms, "rps": spec.target_rps},
        "batchings": [b.label for b in spec.batchings],
        "trials": rows,
        "recommendation": None
        if best is None
        else {
            "instances": best.instances,
            "batching": spec.batchings[best.batching].label,
            "environment": spec.batchings[best.batching].environment(),
            "capacity_rps": best.capacity_rps,
            "reason": best.reason,
        },
    }


def _counts(spec: SizingSpec, trials: list[Trial], index: int) -> list[int]:
    """The instance counts still to try with batching setting `index` (the next first)."""
    if spec.target_rps is None:
        done = {t.instances for t in trials if t.batching == index}
        return [n for n in range(1, spec.max_instances + 1) if n not in done]
    step = next_trial(trials, len(spec.batchings), spec.max_instances)
    return [step[1]] if step is not None and step[0] == index else []


def _stalled(trials: list[Trial], index: int) -> bool:
    """In a sweep, stop adding instances once one more added under 10% capacity."""
    mine = [t for t in trials if t.batching == index]
    if len(mine) < 2:
        return False
    before, last = mine[-2].capacity_rps or 0.0, mine[-1].capacity_rps or 0.0
    return last < 1.1 * before


def _shape(spec: SizingSpec) -> Shape:
    if spec.target_rps is not None:
        rate = spec.target_rps
        return Shape(Mode.rate, (Segment(rate, rate, WARMUP), Segment(rate, rate, spec.duration)))
    steps = tuple(Segment(c, c, spec.duration) for c in SWEEP)
    return Shape(Mode.concurrency, (Segment(1, 1, WARMUP), *steps))


def _judge(
    spec: SizingSpec, count: int, index: int, batching: Batching, report: dict[str, Any]
) -> tuple[Trial, dict[str, Any]]:
    measured = report["segments"][1:]  # after the warm-up
    peak_rss = max((i["peak_rss_mb"] or 0 for i in report["instances"]), default=None)
    cpu = [i["mean_cpu_percent"] for i in report["instances"] if i["mean_cpu_percent"]]
    row: dict[str, Any] = {
        "instances": count,
        "batching": batching.label,
        "peak_rss_mb_per_instance": peak_rss,
        "mean_cpu_percent_per_instance": max(cpu, default=None),
    }
    if spec.target_rps is not None:
        (segment,) = measured
        holds, reason = judge(segment, spec.p99_ms, spec.target_rps)
        trial = Trial(
            count,
            index,
            holds,
            reason,
            segment["throughput_rps"],
            segment["p99"],
            segment["error_rate"],
        )
        row.update(
            holds=holds,
            reason=reason,
            throughput_rps=segment["throughput_rps"],
            p50_ms=segment["p50"],
            p99_ms=segment["p99"],
            error_rate=segment["error_rate"],
        )
        return trial, row
    most = capacity(measured, spec.p99_ms)
    held = [s for s in measured if s["throughput_rps"] == most]
    p99 = held[0]["p99"] if held else None
    reason = (
        f"{most:.1f} req/s within p99 {spec.p99_ms:g} ms"
        if most is not None
        else f"no concurrency held p99 ≤ {spec.p99_ms:g} ms"
    )
    trial = Trial(count, index, most is not None, reason, most or 0.0, p99, 0.0, most)
    row.update(
        holds=most is not None,
        reason=reason,
        capacity_rps=most,
        p99_ms=p99,
        steps=[
            {
                "concurrency": c,
                "throughput_rps": s["throughput_rps"],
                "p99_ms": s["p99"],
                "error_rate": s["error_rate"],
            }
            for c, s in zip(SWEEP, measured, strict=False)
        ],
    )
    return trial, row
