"""Fixtures for the survey-source adapters: the shared real payloads, and a loopback HTTP server
standing in for the Qualtrics / SurveyMonkey APIs (a real socket, no mocks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fixtures import payload, payload_bytes  # noqa: F401  (re-exported for the source tests)


def dumps(data: object) -> bytes:
    return json.dumps(data).encode()


@dataclass
class FakeApi:
    """Routes: path → (status, JSON body). Every request must carry `required_header`."""

    required_header: tuple[str, str] = ("X-Unset", "")
    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    url: str = ""


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            api.seen.append(self.path)
            name, expected = api.required_header
            if self.headers.get(name) != expected:
                self._send(401, {"error": "bad token"})
            elif self.path in api.routes:
                self._send(*api.routes[self.path])
            else:
                self._send(404, {"error": "not found"})

        def _send(self, status: int, body: Any) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()
