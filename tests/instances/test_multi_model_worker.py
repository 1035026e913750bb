"""The worker serving a multi-model endpoint (ADR 0037), as a real process over TCP:
SageMaker's multi-model container contract, loading on first invoke, the LRU under the
budget, and batches that never mix models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.instances.test_worker import free_port
from tests.support.multi_model import model_tarball

START_TIMEOUT = 60.0


class MultiWorker:
    def __init__(self, prefix: Path, tmp: Path, cache_mb: str, batch: str = "1") -> None:
        self.port = free_port()
        self.stderr_path = tmp / f"mm-{time.monotonic_ns()}.stderr"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "turnout.instances.worker", "--multi-model", str(prefix),
                 "--cache-dir", str(tmp / f"cache-{self.port}"),
                 "--bind", f"tcp:127.0.0.1:{self.port}"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "TURNOUT_PARENT_PID": str(os.getpid()),
                     "TURNOUT_MODEL_CACHE_MB": cache_mb, "TURNOUT_MAX_BATCH_SIZE": batch},
            )  # fmt: skip
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr_path.read_text()
            try:
                if self.client.get("/ping").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"not ready: {self.stderr_path.read_text()}")

    def invoke(self, name: str) -> httpx.Response:
        quoted = name.replace("/", "%2F")
        return self.client.post(
            f"/models/{quoted}/invoke", content=b"1.0", headers={"Content-Type": "text/csv"}
        )

    def loaded(self) -> list[str]:
        return [m["modelName"] for m in self.client.get("/models").json()["models"]]

    def stop(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prefix")
    for i in range(4):
        (root / f"m{i}.tar.gz").write_bytes(model_tarball(float(i)))
    (root / "nested").mkdir()
    (root / "nested" / "model.tar.gz").write_bytes(model_tarball(42.0))
    (root / "broken.tar.gz").write_bytes(b"not a tarball")
    return root


@pytest.fixture(scope="module")
def roomy(prefix: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiWorker]:
    worker = MultiWorker(prefix, tmp_path_factory.mktemp("roomy"), "64", batch="8")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def tight(prefix: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiWorker]:
    worker = MultiWorker(prefix, tmp_path_factory.mktemp("tight"), "0.000001")  # 1 byte
    yield worker
    worker.stop()


def answer(response: httpx.Response) -> float:
    assert response.status_code == 200, response.text
    return float(json.loads(response.content)[0])


def test_the_container_contract(roomy: MultiWorker) -> None:
    client = roomy.client
    assert client.post("/models", json={"model_name": "m1.tar.gz"}).status_code == 200
    assert client.post("/models", json={"model_name": "m1.tar.gz"}).status_code == 409
    assert client.post("/models", json={"model_name": "absent"}).status_code == 404
    assert client.post("/models", json={"name": "m1.tar.gz"}).status_code == 400
    assert "m1.tar.gz" in roomy.loaded()
    assert client.get("/models/m1.tar.gz").json()["modelName"] == "m1.tar.gz"
    assert client.delete("/models/m1.tar.gz").status_code == 200
    assert client.delete("/models/m1.tar.gz").status_code == 404
    assert client.get("/models/m1.tar.gz").status_code == 404
    assert client.post("/invocations", content=b"1.0").status_code == 400


def test_first_invoke_loads_then_hits(roomy: MultiWorker) -> None:
    first = roomy.invoke("nested/model.tar.gz")
    assert answer(first) == 42.0
    assert first.headers["x-turnout-model-cache-hit"] == "0"
    assert int(first.headers["x-turnout-model-load-us"]) > 0
    second = roomy.invoke("nested/model.tar.gz")
    assert answer(second) == 42.0
    assert second.headers["x-turnout-model-cache-hit"] == "1"
    assert int(second.headers["x-turnout-loaded-models"]) >= 1


def test_missing_bad_and_unloadable_models(roomy: MultiWorker) -> None:
    missing = roomy.invoke("absent.tar.gz")
    assert missing.status_code == 404 and missing.headers["x-turnout-model-unavailable"] == "1"
    assert "Failed to download model data" in missing.text
    assert roomy.invoke("../m0.tar.gz").status_code == 400
    broken = roomy.invoke("broken.tar.gz")
    assert broken.status_code == 424 and "broken.tar.gz failed to load" in broken.text
    assert answer(roomy.invoke("m0.tar.gz")) == 0.0  # still serving


def test_batches_never_mix_models(roomy: MultiWorker) -> None:
    names = [f"m{i % 4}.tar.gz" for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda n: answer(roomy.invoke(n)), names))
    assert answers == [float(i % 4) for i in range(64)]


def test_over_the_budget_the_least_recently_used_is_unloaded(tight: MultiWorker) -> None:
    assert answer(tight.invoke("m0.tar.gz")) == 0.0
    assert tight.loaded() == ["m0.tar.gz"]
    second = tight.invoke("m1.tar.gz")
    assert answer(second) == 1.0
    assert int(second.headers["x-turnout-model-unload-us"]) > 0
    assert tight.loaded() == ["m1.tar.gz"]  # m0 went: the budget holds one model at most
    assert tight.invoke("m0.tar.gz").headers["x-turnout-model-cache-hit"] == "0"
