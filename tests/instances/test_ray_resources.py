"""What the Ray backend decides without a cluster: the logical resources an instance type
reserves, and the one line `--backend ray` gives when Ray is not installed."""

from __future__ import annotations

import logging
import sys

import pytest

from turnout.instances.backends import BackendError
from turnout.instances.ray.cluster import connect
from turnout.instances.ray.resources import DEFAULT, GIB, INSTANCE_TYPES, Resources, resources_for


@pytest.mark.parametrize(
    ("instance_type", "cpus", "gib"),
    [("ml.t2.medium", 2, 4), ("ml.m5.large", 2, 8), ("ml.c5.xlarge", 4, 8),
     ("ml.r5.2xlarge", 8, 64), ("ML.M5.4XLARGE", 16, 64)],
)  # fmt: skip
def test_known_types_reserve_their_vcpus_and_memory(
    instance_type: str, cpus: int, gib: int
) -> None:
    assert resources_for(instance_type) == Resources(num_cpus=cpus, memory=gib * GIB)


def test_no_type_or_an_unknown_one_reserves_the_default_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert resources_for(None) == DEFAULT == Resources(num_cpus=1, memory=2 * GIB)
    with caplog.at_level(logging.WARNING, "turnout.instances"):
        assert resources_for("ml.x9.huge") == DEFAULT
        assert resources_for("ml.x9.huge") == DEFAULT
    assert [r.getMessage() for r in caplog.records] == [
        "instance type ml.x9.huge is not in turnout's table; reserving 1 CPU and 2 GiB"
    ]


def test_the_table_holds_sagemaker_names_and_plausible_sizes() -> None:
    for name, (cpus, gib) in INSTANCE_TYPES.items():
        assert name.startswith("ml.") and name == name.lower()
        assert 2 <= gib / cpus <= 8, name  # compute (c) 2 GiB per vCPU ... memory (r) 8


def test_without_ray_installed_connect_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(BackendError, match=r"pip install 'turnout\[ray\]'"):
        connect("127.0.0.1:6379")
