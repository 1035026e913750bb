"""`turnout nodes`: the processes sharing the store, their instances, the controller."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli.conftest import plain
from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e


def nodes(server: BackgroundServer, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "nodes", "--url", server.url, *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return plain(done.stdout)


def test_a_single_server_is_one_node_and_the_controller(
    server: BackgroundServer, deploy: Deploy, artifacts: Artifacts
) -> None:
    deploy("nodes", [VariantOf("A", artifacts.sklearn, instance_count=2)])
    installation = json.loads(nodes(server, "--json"))
    (node,) = installation["nodes"]
    assert installation["controller"]["holder"] == node["name"]
    assert node["url"] == server.url and node["alive"] and node["controller"]
    assert node["backend"] == "local"
    mine = [i for i in node["instances"] if i["endpoint"] == "nodes"]
    assert sorted(i["id"] for i in mine) == ["nodes/nodes-config/A/1", "nodes/nodes-config/A/2"]
    assert {i["state"] for i in mine} == {"Ready"}
    assert node["applied"]["nodes"] >= 1

    table = nodes(server)
    assert f"controller: {node['name']}" in table
    row = next(line for line in table.splitlines() if node["name"] in line and "│" in line)
    assert "controller" in row and "2/2 ready" in row and server.url in row, table
