"""The HTTP side of the fake Slack Web API (`tests/fakes/slack_api.py`): bodies parsed the way Slack reads
them, the bearer token (or `token` field) taken out, answers written back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Handle = Callable[[str, dict[str, Any], "str | None"], Reply]  # (method, args, token) → reply


def parse_args(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Query parameters + JSON or form body; JSON-typed form fields (blocks, view…) decoded."""
    args: dict[str, Any] = dict(parse_qsl(query))
    if body and "application/json" in content_type:
        args.update(json.loads(body))
    elif body:
        args.update(parse_qsl(body.decode()))
    for name in JSON_FIELDS:
        if isinstance(args.get(name), str):
            with contextlib.suppress(ValueError):
                args[name] = json.loads(args[name])
    return args


def handler_for(handle: Handle) -> type[BaseHTTPRequestHandler]:
    """Request handler class for `ThreadingHTTPServer`: every POST (and GET) goes to `handle`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            args = parse_args(parts.query, self.rfile.read(length), self.headers.get("Content-Type", ""))
            token = self._token(args)
            reply = handle(parts.path.strip("/").removeprefix("api/"), args, token)
            self._send(reply)

        do_GET = do_POST

        def _token(self, args: dict[str, Any]) -> str | None:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                return auth.removeprefix("Bearer ")
            token = args.pop("token", None)
            return str(token) if token else None

        def _send(self, reply: Reply) -> None:
            body = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

    return Handler
