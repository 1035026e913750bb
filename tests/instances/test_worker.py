"""The real worker process, over a Unix socket and over TCP."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.models import (
    BROKEN_MESSAGE,
    digits_rows,
    make_broken_model,
    make_faulty_model,
    make_sklearn_model,
    npy_bytes,
    train_digits,
)

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
MAX_PAYLOAD = 64 * 1024


class Worker:
    """A worker subprocess and an HTTP client bound to its address."""

    def __init__(self, model_dir: Path, flavor: str, bind: str, tmp: Path, *extra: str) -> None:
        self.stderr_path = tmp / f"worker-{time.monotonic_ns()}.stderr"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "turnout.instances.worker",
                "--model-dir",
                str(model_dir),
                "--flavor",
                flavor,
                "--bind",
                bind,
                *extra,
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env={**os.environ, "TURNOUT_PARENT_PID": str(os.getpid())},
        )
        kind, _, rest = bind.partition(":")
        if kind == "unix":
            self.client = httpx.Client(
                transport=httpx.HTTPTransport(uds=rest), base_url="http://worker", timeout=30
            )
        else:
            self.client = httpx.Client(base_url=f"http://{rest}", timeout=30)

    def wait_ready(self) -> Worker:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}: {self.stderr()}")
            try:
                if self.client.get("/ping").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"worker not ready: {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def invoke(self, body: bytes, **headers: str) -> httpx.Response:
        return self.client.post("/invocations", content=body, headers=headers)

    def stop(self) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._stderr.close()
        return code


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker")


@pytest.fixture(scope="module")
def sklearn_worker(tmp: Path) -> Iterator[Worker]:
    model_dir = make_sklearn_model(tmp / "sklearn")
    socket_path = tmp / "sklearn.sock"
    with socket.socket(socket.AF_UNIX) as stale:  # left behind by a killed predecessor
        stale.bind(str(socket_path))
    worker = Worker(
        model_dir, "sklearn", f"unix:{socket_path}", tmp, "--max-payload-bytes", str(MAX_PAYLOAD)
    )
    yield worker.wait_ready()
    assert worker.stop() == 0


@pytest.fixture(scope="module")
def faulty_worker(tmp: Path) -> Iterator[Worker]:
    model_dir = make_faulty_model(tmp / "faulty")
    worker = Worker(model_dir, "inference", f"tcp:127.0.0.1:{free_port()}", tmp)
    yield worker.wait_ready()
    assert worker.stop() == 0


def expected(rows: list[list[float]]) -> list[int]:
    return [int(v) for v in train_digits().estimator.predict(np.array(rows))]


# -- happy paths ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sklearn_worker", "faulty_worker"])
def test_ping(name: str, request: pytest.FixtureRequest) -> None:
    worker: Worker = request.getfixturevalue(name)
    response = worker.client.get("/ping")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}


def test_json_rows(sklearn_worker: Worker) -> None:
    rows, _ = digits_rows(10)
    response = sklearn_worker.invoke(
        json.dumps(rows).encode(), **{"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected(rows)


def test_csv_in_csv_out(sklearn_worker: Worker) -> None:
    rows, _ = digits_rows(3)
    body = "\n".join(",".join(map(str, row)) for row in rows).encode()
    response = sklearn_worker.invoke(body, **{"Content-Type": "text/csv", "Accept": "text/csv"})
    assert response.headers["content-type"] == "text/csv"
    assert response.text.split() == [str(v) for v in expected(rows)]


def test_npy_with_accept_negotiation(sklearn_worker: Worker) -> None:
    rows, _ = digits_rows(4)
    response = sklearn_worker.invoke(
        npy_bytes(np.array(rows)),
        **{"Content-Type": "application/x-npy", "Accept": "text/csv;q=0.5, application/x-npy"},
    )
    assert response.headers["content-type"] == "application/x-npy"
    assert np.load(io.BytesIO(response.content)).tolist() == expected(rows)


def test_custom_attributes_come_back(faulty_worker: Worker) -> None:
    response = faulty_worker.invoke(
        b'{"echo_attributes": true}', **{"X-Amzn-SageMaker-Custom-Attributes": "trace=42"}
    )
    assert response.json() == {"custom_attributes": "trace=42"}
    assert response.headers["x-amzn-sagemaker-custom-attributes"] == "trace=42"
    plain = faulty_worker.invoke(json.dumps(digits_rows(1)[0]).encode())
    assert "x-amzn-sagemaker-custom-attributes" not in plain.headers


# -- errors -----------------------------------------------------------------------------


def assert_plain(response: httpx.Response, status: int) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_malformed_json_is_400(sklearn_worker: Worker) -> None:
    assert "not valid JSON" in assert_plain(sklearn_worker.invoke(b"[1, 2"), 400)


def test_wrong_feature_count_is_400(sklearn_worker: Worker) -> None:
    assert "3 features" in assert_plain(sklearn_worker.invoke(b"[1, 2, 3]"), 400)


def test_unsupported_content_type_is_415(sklearn_worker: Worker) -> None:
    message = assert_plain(sklearn_worker.invoke(b"x", **{"Content-Type": "text/plain"}), 415)
    assert "application/json" in message


def test_unsupported_accept_is_406(sklearn_worker: Worker) -> None:
    assert_plain(sklearn_worker.invoke(b"[1]", Accept="text/html"), 406)


def test_too_large_is_413_and_the_worker_goes_on(sklearn_worker: Worker) -> None:
    message = assert_plain(sklearn_worker.invoke(b"[" + b"0," * MAX_PAYLOAD + b"0]"), 413)
    assert str(MAX_PAYLOAD) in message

    def chunks() -> Iterator[bytes]:  # no Content-Length: caught while streaming
        for _ in range(4):
            yield b" " * (MAX_PAYLOAD // 2)

    chunked = sklearn_worker.client.post("/invocations", content=chunks())
    assert_plain(chunked, 413)
    rows, _ = digits_rows(1)
    assert sklearn_worker.invoke(json.dumps(rows).encode()).json() == expected(rows)


def test_a_body_at_the_limit_is_read(sklearn_worker: Worker) -> None:
    rows, _ = digits_rows(1)
    body = json.dumps(rows).encode()
    padded = body + b" " * (MAX_PAYLOAD - len(body))
    assert sklearn_worker.invoke(padded).json() == expected(rows)


def test_unknown_path_and_wrong_method(sklearn_worker: Worker) -> None:
    assert_plain(sklearn_worker.client.get("/nope"), 404)
    assert_plain(sklearn_worker.client.get("/invocations"), 405)
    assert_plain(sklearn_worker.client.post("/ping"), 405)


def test_a_raising_request_is_500_and_the_worker_lives(faulty_worker: Worker) -> None:
    message = assert_plain(faulty_worker.invoke(b'{"raise": "boom"}'), 500)
    assert message == "RuntimeError: boom"
    rows, _ = digits_rows(2)
    assert faulty_worker.invoke(json.dumps(rows).encode()).json() == expected(rows)
    assert faulty_worker.process.poll() is None


# -- process lifecycle ------------------------------------------------------------------


def test_a_model_that_cannot_load_exits_3_with_one_line(tmp_path: Path) -> None:
    worker = Worker(make_broken_model(tmp_path / "m"), "inference", "tcp:127.0.0.1:1", tmp_path)
    assert worker.process.wait(timeout=START_TIMEOUT) == 3
    worker.stop()
    assert worker.stderr() == (
        f"turnout worker: cannot load model: model_fn failed: RuntimeError: {BROKEN_MESSAGE}\n"
    )


def test_requirement_warnings_are_printed(tmp_path: Path) -> None:
    model_dir = make_sklearn_model(tmp_path / "m")
    (model_dir / "code").mkdir()
    (model_dir / "code" / "requirements.txt").write_text("turnout-no-such-package\n")
    worker = Worker(model_dir, "sklearn", f"unix:{tmp_path / 'w.sock'}", tmp_path).wait_ready()
    assert worker.stop() == 0
    warnings = [line for line in worker.stderr().splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("turnout worker: warning: code/requirements.txt asks for")


def test_sigterm_finishes_the_request_in_flight_then_exits_0(tmp_path: Path) -> None:
    worker = Worker(
        make_faulty_model(tmp_path / "m"), "inference", f"unix:{tmp_path / 'w.sock'}", tmp_path
    ).wait_ready()
    answer: dict[str, Any] = {}

    def slow_request() -> None:
        answer["response"] = worker.invoke(b'{"hang": 1.0}')

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.3)  # let the request reach the model (not a timing assertion)
    worker.process.send_signal(signal.SIGTERM)
    thread.join(timeout=30)
    assert worker.process.wait(timeout=30) == 0
    assert answer["response"].status_code == 200
    assert answer["response"].json() == {"slept": 1.0}
    worker.stop()


def test_a_crashing_request_ends_only_that_worker(tmp_path: Path) -> None:
    worker = Worker(
        make_faulty_model(tmp_path / "m"), "inference", f"tcp:127.0.0.1:{free_port()}", tmp_path
    ).wait_ready()
    with pytest.raises(httpx.TransportError):
        worker.invoke(b'{"crash": true}')
    assert worker.process.wait(timeout=30) == 1
    worker.stop()


def test_a_bad_bind_address_is_a_usage_error(tmp_path: Path) -> None:
    worker = Worker(make_sklearn_model(tmp_path / "m"), "sklearn", "udp:x", tmp_path)
    assert worker.process.wait(timeout=30) == 2
    worker.stop()
    assert "bad address" in worker.stderr() or "invalid" in worker.stderr()
