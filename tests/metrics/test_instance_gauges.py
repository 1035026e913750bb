"""`/metrics` of a live server carries each instance's CPU and memory (SageMaker's
CPUUtilization and MemoryUtilization) as the supervisor samples them."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

LABELS = {"endpoint": "gauges", "config": "gauges-config", "variant": "A", "instance_id": "1"}


def samples(server: BackgroundServer) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics").text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("turnout_instance_") and sample.labels == LABELS
    }


def test_each_instance_reports_cpu_and_memory(
    server: BackgroundServer, deploy: Deploy, artifacts: Artifacts
) -> None:
    deploy("gauges", [VariantOf("A", artifacts.sklearn)])
    found = poll_until(
        lambda: samples(server),
        lambda s: "turnout_instance_memory_bytes" in s,
        timeout=30,  # the first sample comes with the supervisor's first health check
        what="the instance's memory gauge",
    )
    assert found["turnout_instance_ready"] == 1.0
    assert found["turnout_instance_memory_bytes"] > 20 * 1024**2  # a Python with sklearn
    assert 0 < found["turnout_instance_memory_utilization_ratio"] < 1
    assert found["turnout_instance_cpu_utilization_ratio"] >= 0
