"""`BackgroundServer` (demo, tests) starts a real `turnout serve` on a port it chose; when
another process takes that port first, it is not fooled by that process's answers and moves
to another port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.impostor import impostor
from turnout.cli import background
from turnout.cli.background import BackgroundServer
from turnout.client import Client


@pytest.fixture
def taken() -> Iterator[int]:
    with impostor() as port:
        yield port


def test_a_port_taken_before_the_child_binds_is_replaced(
    taken: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race, made certain: the first port chosen is already someone else's.
    ports = iter([taken])
    real_free_port = background.free_port
    monkeypatch.setattr(background, "free_port", lambda *a: next(ports, None) or real_free_port())
    with BackgroundServer(tmp_path / "serve") as server:
        assert server.port != taken
        with Client(server.url) as client:
            assert client.list_endpoints() == []  # turnout's answer, not the impostor's
    assert "in use" in server.log_path.read_text()


def test_a_port_given_by_the_caller_is_not_replaced(taken: int, tmp_path: Path) -> None:
    server = BackgroundServer(tmp_path / "serve", port=taken, timeout=30)
    with pytest.raises(background.ServerDidNotStart, match="in use"):
        server.start()
