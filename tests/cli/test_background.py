"""`BackgroundServer` (demo, tests) starts a real `turnout serve` on a port it chose; when
another process takes that port first, it is not fooled by that process's answers and moves
to another port."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.cli import background
from turnout.cli.background import BackgroundServer
from turnout.client import Client


class _HealthImpostor(http.server.BaseHTTPRequestHandler):
    """Answers /api/v1/health exactly as a turnout server would."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "version": "0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def impostor() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthImpostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_port_taken_before_the_child_binds_is_replaced(
    impostor: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race, made certain: the first port chosen is already someone else's.
    ports = iter([impostor])
    real_free_port = background.free_port
    monkeypatch.setattr(background, "free_port", lambda *a: next(ports, None) or real_free_port())
    with BackgroundServer(tmp_path / "serve") as server:
        assert server.port != impostor
        with Client(server.url) as client:
            assert client.list_endpoints() == []  # the impostor answers nothing but health
    assert "in use" in server.log_path.read_text()


def test_a_port_given_by_the_caller_is_not_replaced(impostor: int, tmp_path: Path) -> None:
    server = BackgroundServer(tmp_path / "serve", port=impostor, timeout=30)
    with pytest.raises(background.ServerDidNotStart, match="in use"):
        server.start()
