"""Slow and numerous clients against a real `hotloop serve` process, over raw sockets.

Half-sent headers are cut off, a trickled body gets 408, past HOTLOOP_HTTP_MAX_CONNECTIONS new
requests get 503 while a normal webhook works below it, SIGTERM ends the process within
HOTLOOP_HTTP_SHUTDOWN_TIMEOUT_SECONDS even with hundreds of slow clients connected, and a port already
in use is reported before the database is touched. Timeouts are small so the tests stay short.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from adapters.sources.generic import sign
from tests.serveproc import Served, hotloop_env, hotloop_serve, run_cli

SECRET = "slow-clients-source-secret-0123"
READ_LIMIT = 20.0  # a socket read that waits longer than this means the server never acted


def webhook(served: Served, external_id: str) -> httpx.Response:
    body = json.dumps({"id": external_id, "nps": 3}).encode()
    headers = {"x-hotloop-signature": sign(SECRET, body, int(time.time())),
               "content-type": "application/json"}
    return httpx.post(f"{served.url}/webhooks/web", content=body, headers=headers, timeout=10)


def connect(served: Served) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.port), timeout=READ_LIMIT)


def half_headers(served: Served) -> socket.socket:
    sock = connect(served)
    sock.sendall(b"POST /webhooks/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
    return sock


def stalled_body(served: Served) -> socket.socket:
    sock = connect(served)
    sock.sendall(b"POST /webhooks/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"id\": ")
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (socket.timeout: it never closed)."""
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    return received


@contextmanager
def source_and_server(tmp_path: Path, **settings: str) -> Iterator[Served]:
    env = hotloop_env(tmp_path, **settings)
    added = run_cli(tmp_path, "source", "add", "web", "--kind", "generic", "--secret", SECRET, env=env)
    assert added.returncode == 0, added.stderr
    with hotloop_serve(tmp_path, env, "--role", "web") as served:
        yield served


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with source_and_server(tmp_path_factory.mktemp("quick"), http_header_timeout_seconds="1",
                           http_body_timeout_seconds="1.5") as served:
        yield served


def test_half_sent_headers_are_cut_off(quick: Served) -> None:
    with half_headers(quick) as sock:
        assert read_until_closed(sock) == b""  # closed by the server, without a word


def test_headers_trickled_byte_by_byte_are_cut_off_too(quick: Served) -> None:
    with connect(quick) as sock:
        sent = 0
        try:
            for byte in b"POST /webhooks/web HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 100:
                sock.sendall(bytes([byte]))  # every byte resets nothing: the deadline is per request
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 130 and read_until_closed(sock) == b""


def test_a_trickled_body_gets_408_and_nothing_is_stored(quick: Served) -> None:
    with stalled_body(quick) as sock:
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive" in answer
    assert webhook(quick, "after-408").status_code == 202  # the server is fine


def test_cap_on_connections_and_a_bounded_shutdown_with_hundreds_of_slow_clients(tmp_path: Path) -> None:
    settings = {"http_header_timeout_seconds": "60", "http_body_timeout_seconds": "60",
                "http_max_connections": "310", "http_shutdown_timeout_seconds": "2"}
    with source_and_server(tmp_path, **settings) as served, ExitStack() as slow:
        for n in range(300):  # half of them mid-headers, half mid-body
            slow.enter_context(half_headers(served) if n % 2 else stalled_body(served))
        assert webhook(served, "among-300").status_code == 202  # below the cap: served
        for _ in range(20):
            slow.enter_context(half_headers(served))
        refused = webhook(served, "past-the-cap")
        assert refused.status_code == 503, refused.text
        # SIGTERM with 320 slow clients still connected: the process ends, bounded by the shutdown timeout
        try:
            status = served.terminate(timeout=30)
        except Exception:
            pytest.fail("hotloop serve was still running 30 s after SIGTERM")
        assert status in (0, -15), served.output()[-2000:]


def test_a_port_in_use_is_reported_in_one_line_before_the_database_is_touched(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(tmp_path, "serve", "--port", str(port), env=hotloop_env(tmp_path))
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and str(port) in lines[0] and "in use" in lines[0], lines
    assert not (tmp_path / "hotloop.db").exists()  # neither created nor migrated
