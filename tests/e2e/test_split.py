"""Traffic splits by weight: 10,000 invocations land within the binomial 99.9% interval,
follow a live weight change, and TargetVariant pins every request to one variant."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from scipy.stats import binom

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from tests.support.load import LoadProcess, LoadResult
from tests.support.models import digits_rows, train_digits
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

ENDPOINT = "split"
N = 10_000
CONCURRENCY = 8
ROW = json.dumps(digits_rows(1)[0][0])


@pytest.fixture(scope="module")
def endpoint(deploy: Deploy, artifacts: Artifacts) -> str:
    deploy(
        ENDPOINT,
        [
            VariantOf("A", artifacts.sklearn, weight=0.5),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.5),
        ],
    )
    return ENDPOINT


def send(server: BackgroundServer, out: Path, requests: int, **options: object) -> LoadResult:
    """`requests` invocations from the load process; all of them must succeed."""
    load = LoadProcess(
        out, server.url, ENDPOINT, requests=requests, concurrency=CONCURRENCY,
        duration=240, body=ROW, **options,
    )  # fmt: skip
    with load:
        result = load.finish(timeout=300)
    assert result.total == requests, result.describe()
    assert result.ok == requests, result.describe()
    assert result.ok_without_variant == 0, "x-Amzn-Invoked-Production-Variant was missing"
    return result


def assert_binomial_split(result: LoadResult, share_of_a: float) -> None:
    low, high = binom.interval(0.999, result.ok, share_of_a)
    count_a = result.by_variant.get("A", 0)
    assert set(result.by_variant) <= {"A", "B"}, result.by_variant
    assert low <= count_a <= high, (
        f"A got {count_a} of {result.ok}; the 99.9% interval at p={share_of_a} is "
        f"[{low:.0f}, {high:.0f}]"
    )


def test_equal_weights_split_evenly(server: BackgroundServer, endpoint: str, tmp_path: Path):
    assert_binomial_split(send(server, tmp_path / "load.json", N), 0.5)


def test_the_split_follows_a_live_weight_change(
    server: BackgroundServer, client: Client, endpoint: str, tmp_path: Path
):
    client.update_traffic(endpoint, weights={"A": 0.9, "B": 0.1})
    described = client.wait_for_endpoint(endpoint, timeout=60)
    assert {v["name"]: v["current_weight"] for v in described["variants"]} == {
        "A": 0.9,
        "B": 0.1,
    }
    assert_binomial_split(send(server, tmp_path / "load.json", N), 0.9)


@pytest.mark.parametrize("target", ["A", "B"])
def test_target_variant_pins_every_request(
    server: BackgroundServer, endpoint: str, target: str, tmp_path: Path
):
    result = send(server, tmp_path / "load.json", 1000, target_variant=target)
    assert result.by_variant == {target: 1000}


def test_target_variant_reaches_a_variant_with_weight_0(
    server: BackgroundServer, client: Client, endpoint: str, tmp_path: Path
):
    client.update_traffic(endpoint, weights={"A": 1.0, "B": 0.0})
    client.wait_for_endpoint(endpoint, timeout=60)
    assert send(server, tmp_path / "all.json", 1000).by_variant == {"A": 1000}
    pinned = send(server, tmp_path / "pinned.json", 1000, target_variant="B")
    assert pinned.by_variant == {"B": 1000}


def test_the_answer_names_the_invoked_variant(server: BackgroundServer, endpoint: str):
    response = httpx.post(
        f"{server.url}/endpoints/{endpoint}/invocations",
        content=ROW,
        headers={"Content-Type": "application/json", "X-Amzn-SageMaker-Target-Variant": "B"},
    )
    assert response.status_code == 200
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "B"
    expected = train_digits(C=0.01).estimator.predict([json.loads(ROW)]).tolist()
    assert response.json() == expected
