"""Another process's HTTP server on a port turnout meant to use: it answers GETs as a healthy
turnout server and a model's /ping would (200, JSON), and POSTs with a body no model gives."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator

HEALTH = {"status": "ok", "version": "0"}
ANSWER = {"impostor": True}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(HEALTH)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(ANSWER)

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def impostor(port: int = 0) -> Iterator[int]:
    """Listen on 127.0.0.1:`port` (0: any) until the block ends; yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
