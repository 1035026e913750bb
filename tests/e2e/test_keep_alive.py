"""A command-flavor model whose HTTP server drops keep-alive connections left idle past its
keep-alive time (as gunicorn, uvicorn and most servers do) answers every invocation, however
the calls are spaced: none fails with a ModelError (424) on a connection the server dropped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Deploy
from tests.support.endpoints import VariantOf
from tests.support.models import make_command_model
from turnout.client import Client
from turnout.routing.upstream import IDLE_TIMEOUT

pytestmark = pytest.mark.e2e

KEEP_ALIVE = 0.3  # the model server's, seconds


def test_invocations_after_idle_pauses_all_succeed(
    client: Client, deploy: Deploy, tmp_path: Path
) -> None:
    deploy("idle", [VariantOf("A", make_command_model(tmp_path / "m", keep_alive=KEEP_ALIVE))])
    assert client.invoke("idle", [0]).json() == {"echo": [0]}
    # Past the server's keep-alive but within the router's idle timeout: the server drops
    # the connection as the request comes, unread, and the router sends it once more. Past
    # the router's idle timeout: the router leaves the old connection and opens a new one.
    pauses = [KEEP_ALIVE * 2] * 3 + [IDLE_TIMEOUT + KEEP_ALIVE] * 2
    for i, pause in enumerate(pauses, start=1):
        time.sleep(pause)
        assert client.invoke("idle", [i]).json() == {"echo": [i]}
