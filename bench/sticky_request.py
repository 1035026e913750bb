"""The router's whole per-request variant choice, with and without sticky routing, in one run.

    .venv/bin/python bench/sticky_request.py [--keys 100000] [--repeat 5]

Times `turnout.routing.dispatch._assign` (read the key from the headers, targeting,
sticky assignment or a random draw) per call, best of --repeat passes, for 2 variants:
  random        no routing settings: the weighted random choice (the old data path)
  no key        settings on, the caller sent no key: key lookup, then the random choice
  key           settings on, a key: two-level rendezvous, one fleet
  key, 2 fleets settings on, a key, during a blue/green deployment (both levels hash)
  key + rules   as "key", behind 3 header rules and a 1,000-user rule that do not match
CPU time of this process; for comparing rows, not as absolute figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from turnout.domain.rollups import VariantKey
from turnout.domain.routing import RoutingSettings
from turnout.metrics.counters import VariantMetrics
from turnout.routing.dispatch import _assign
from turnout.routing.table import EndpointRoute, VariantRoute

Headers = list[tuple[bytes, bytes]]
BASE: Headers = [
    (b"host", b"127.0.0.1:8080"),
    (b"content-type", b"application/json"),
    (b"content-length", b"512"),
    (b"user-agent", b"Boto3/1.35 md/Botocore#1.35"),
    (b"x-country", b"DE"),
]


def route(config: str, variant: str) -> VariantRoute:
    return VariantRoute(config, variant, (), VariantMetrics(VariantKey("e", config, variant)))


def endpoint(settings: RoutingSettings | None, fleets: int) -> EndpointRoute:
    routes = [route(c, v) for c in ("blue", "green")[:fleets] for v in "AB"]
    return EndpointRoute("e", routes, [1.0] * len(routes), settings)


def best_ns(call: Callable[[Headers], object], requests: list[Headers], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time_ns()
        for headers in requests:
            call(headers)
        best = min(best, (time.process_time_ns() - start) / len(requests))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    keyed = [[*BASE, (b"x-turnout-user", f"user-{i}".encode())] for i in range(args.keys)]
    keyless = [BASE] * args.keys
    on = RoutingSettings("salt")
    rules = on.with_document(
        {"rules": [
            {"type": "header", "header": f"x-h{i}", "operator": "equals", "value": "1",
             "variant": "B"} for i in range(3)
        ] + [{"type": "users", "users": [f"vip-{i}" for i in range(1000)], "variant": "B"}]}
    )  # fmt: skip
    cases = {
        "random": (endpoint(None, 1), keyed),
        "no key": (endpoint(on, 1), keyless),
        "key": (endpoint(on, 1), keyed),
        "key, 2 fleets": (endpoint(on, 2), keyed),
        "key + rules": (endpoint(rules, 1), keyed),
    }
    print(f"{'case':<14} {'ns/request':>10}")
    for name, (ep, requests) in cases.items():
        ns = best_ns(lambda h, ep=ep: _assign(ep, h), requests, args.repeat)  # type: ignore[misc]
        print(f"{name:<14} {ns:>10.0f}")


if __name__ == "__main__":
    main()
