"""`turnout top`: the per-variant numbers of every endpoint, in the terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli.conftest import plain
from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

ROWS, _ = digits_rows(1)


def top_once(server: BackgroundServer) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "top", "--once", "--url", server.url],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return plain(done.stdout)


def test_top_shows_each_variant_with_its_requests(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts
) -> None:
    deploy("top", [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    sent = {"A": 7, "B": 3}
    for variant, count in sent.items():
        for _ in range(count):
            client.invoke("top", ROWS, target_variant=variant)
    shown = top_once(server)
    # Table cells: endpoint, status, config, variant, weight, ready, req (5m), ...
    rows = [r for r in (line.split("│") for line in shown.splitlines()) if len(r) > 8]
    by_variant = {cells[4].strip(): cells for cells in rows if cells[3].strip() == "top-config"}
    assert set(by_variant) == {"A", "B"}, shown
    for variant, count in sent.items():
        cells = by_variant[variant]
        assert cells[6].strip() == "1/1"
        assert cells[7].strip() == str(count)
