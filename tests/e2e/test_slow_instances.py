"""Hanging and slow instances (ADR 0034): a hung instance answers the caller with the model
timeout and is replaced by a new process; a slow instance of four is ejected as an outlier,
so it gets markedly fewer requests even when requests come one at a time."""

from __future__ import annotations

import json
import statistics
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, instances_of, poll_until
from turnout.api.runtime.sagemaker_errors import TIMEOUT_MESSAGE
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

MODEL_TIMEOUT = 2.0  # short, with a wide margin over a good request on a busy machine
SLOW_SECONDS = 0.2  # what the slow instance adds to each answer
REQUESTS = 400  # one at a time: least-outstanding alone would give the slow one a quarter
RECOVERY_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--model-timeout", str(MODEL_TIMEOUT))


@pytest.fixture(scope="module")
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    # The client's own timeout bounds the wait far above the model timeout.
    with httpx.Client(base_url=server.url, timeout=15 * MODEL_TIMEOUT) as session:
        yield session


def invoke(http: httpx.Client, endpoint: str, body: object) -> httpx.Response:
    return http.post(
        f"/endpoints/{endpoint}/invocations",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )


# -- a hung instance --------------------------------------------------------------------


def test_a_hung_instance_answers_with_the_timeout_and_is_replaced(
    client: Client, deploy: Deploy, artifacts: Artifacts, http: httpx.Client
) -> None:
    deploy("hung", [VariantOf("F", artifacts.faulty)])
    [before] = instances_of(client.describe_endpoint("hung"), "F")
    assert before["ready"] and before["pid"] is not None

    response = invoke(http, "hung", {"hang": 3600})  # never answers by itself

    assert response.status_code == 424, response.text
    assert response.headers["x-amzn-ErrorType"] == "ModelError"
    error = response.json()
    assert (error["OriginalStatusCode"], error["OriginalMessage"]) == (0, TIMEOUT_MESSAGE)
    # The hung process lost its slot: out of rotation before the caller had the answer
    # (the supervisor's /ping watchdog alone would take its 5 s interval to notice), then
    # killed, and a new process serves in its place.
    [at_answer] = instances_of(client.describe_endpoint("hung"), "F")
    assert not at_answer["ready"] or at_answer["pid"] != before["pid"], at_answer
    after = poll_until(
        lambda: instances_of(client.describe_endpoint("hung"), "F")[0],
        lambda i: i["ready"] and i["pid"] not in (None, before["pid"]),
        RECOVERY_TIMEOUT,
        "the hung instance replaced",
    )
    assert after["restarts"] == before["restarts"] + 1
    assert "unresponsive" in (after["last_error"] or "")
    assert not psutil.pid_exists(before["pid"])
    answers = [invoke(http, "hung", [[0.0] * 64]) for _ in range(10)]
    assert [r.status_code for r in answers] == [200] * 10


# -- a slow instance among four ---------------------------------------------------------

# Answers the pid of the process that served; sleeps when the marker file lists that pid.
_SLOW_HANDLERS = """
    import json
    import os
    import time

    MARKER = {marker!r}


    def model_fn(model_dir):
        return None


    def input_fn(request_body, request_content_type):
        return json.loads(request_body)


    def predict_fn(input_data, model):
        try:
            with open(MARKER) as f:
                slow = f.read().split()
        except FileNotFoundError:
            slow = []
        if str(os.getpid()) in slow:
            time.sleep({seconds!r})
        return {{"pid": os.getpid()}}


    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
"""


def make_slow_model(dest: Path, marker: Path) -> Path:
    code = dest / "code"
    code.mkdir(parents=True)
    source = _SLOW_HANDLERS.format(marker=str(marker), seconds=SLOW_SECONDS)
    (code / "inference.py").write_text(textwrap.dedent(source).lstrip())
    return dest


def ejections(http: httpx.Client, endpoint: str) -> dict[str, tuple[float, float]]:
    """instance_id -> (turnout_instance_ejections_total, turnout_instance_ejected)."""
    found: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if sample.labels.get("endpoint") != endpoint:
                continue
            slot = {"turnout_instance_ejections_total": 0, "turnout_instance_ejected": 1}
            if sample.name in slot:
                found.setdefault(sample.labels["instance_id"], [0.0, 0.0])
                found[sample.labels["instance_id"]][slot[sample.name]] = sample.value
    return {k: (v[0], v[1]) for k, v in found.items()}


def test_a_slow_instance_of_four_is_ejected(
    client: Client, deploy: Deploy, http: httpx.Client, tmp_path: Path
) -> None:
    marker = tmp_path / "slow-pids"
    deploy("slow", [VariantOf("A", make_slow_model(tmp_path / "model", marker), 4)])
    instances = instances_of(client.describe_endpoint("slow"), "A")
    slow = instances[2]
    marker.write_text(f"{slow['pid']}\n")

    served: list[tuple[int, float]] = []  # (pid, seconds), as the caller saw them
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = invoke(http, "slow", [1])
        assert response.status_code == 200, response.text
        served.append((response.json()["pid"], time.perf_counter() - started))

    counts = Counter(pid for pid, _ in served)
    fast_pids = [i["pid"] for i in instances if i["pid"] != slow["pid"]]
    fast_median = statistics.median(counts[pid] for pid in fast_pids)
    report = f"requests per pid {dict(counts)}, slow {slow['pid']}"
    # Least-outstanding alone would give it a quarter (every instance idle at each pick).
    assert counts[slow["pid"]] < fast_median / 3, report
    # The caller's latency: the slow instance no longer shows in the tail of all requests,
    # and the fast ones' tail stays below what the slow one costs.
    fast = sorted(s for pid, s in served if pid != slow["pid"])
    slowed = sorted(s for pid, s in served if pid == slow["pid"])
    every = sorted(s for _, s in served)
    assert slowed, "the slow instance never served: it was not judged on its own answers"
    assert quantile(every, 0.95) < statistics.median(slowed) / 2, report
    assert quantile(fast, 0.99) < statistics.median(slowed), report
    # ... and the metric says who was ejected.
    by_instance = ejections(http, "slow")
    slow_id = str(slow["id"]).rsplit("/", 1)[1]
    assert by_instance[slow_id][0] >= 1, by_instance
    assert by_instance[slow_id][1] == 1.0, by_instance
    assert all(v == (0.0, 0.0) for k, v in by_instance.items() if k != slow_id), by_instance


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
