"""Issue 7 §2 — oversize and deeply nested bodies on every endpoint, through the real app over HTTP.

A 50 MiB upload, declared (Content-Length) or streamed (chunked), is answered 413 within 2 s after only
a sliver of it was sent: the server refuses without reading it whole (a raw socket client stops writing
as soon as the status line arrives, so "sent" bounds what the server could have read). A body nested
10,000 levels deep is a clear 4xx, never a 500, whether it is signed or not. Nothing is written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest

from adapters.sources import delighted, formbricks, generic, qualtrics, surveymonkey, typeform
from tests.adapters.slack.slackapp import sign as slack_sign
from tests.adapters.teams.test_auth import token
from tests.security.conftest import SECRETS, SOURCE_NAMES, World

MiB = 1024 * 1024
UPLOAD = 50 * MiB
DEPTH = 10_000
ENDPOINTS = ["/webhooks/web", "/slack/events", "/api/messages"]


@dataclass(frozen=True)
class Upload:
    status_line: bytes
    sent: int
    elapsed: float


async def upload(
    url: str, path: str, *, chunked: bool, total: int = UPLOAD, headers: Iterable[tuple[str, str]] = ()
) -> Upload:
    """POST `total` bytes of `[` over a raw socket, a chunk at a time, stopping when the server answers."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        "Connection: close",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}",
    ]
    head += [f"{name}: {value}" for name, value in headers]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    status = asyncio.ensure_future(reader.readline())
    chunk, sent, started = b"[" * 65536, 0, time.monotonic()
    try:
        while sent < total and not status.done() and time.monotonic() - started < 10:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            sent += len(chunk)
            drain = asyncio.ensure_future(writer.drain())
            await asyncio.wait({drain, status}, timeout=3, return_when=asyncio.FIRST_COMPLETED)
            if not drain.done():  # the server stopped reading: wait for its answer instead
                drain.cancel()
                break
            if drain.exception() is not None:
                break
    except OSError:  # the server closed the connection after answering
        pass
    line = await asyncio.wait_for(status, 5)
    elapsed = time.monotonic() - started
    writer.close()
    return Upload(line, sent, elapsed)


def deep_json(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def deep_source_requests(now: int) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """(path, body, headers) per source kind: a body nested 10,000 deep, correctly signed."""
    nested = deep_json()

    def path(kind: str) -> str:
        return f"/webhooks/{SOURCE_NAMES[kind]}"

    js = "application/json"
    gen = f'{{"id": "r-deep", "answers": {nested}}}'.encode()
    tf = f'{{"event_type": "form_response", "form_response": {{"token": "t", "answers": {nested}}}}}'.encode()
    fb = f'{{"event": "responseFinished", "data": {nested}}}'.encode()
    dl = f'{{"event_type": "survey_response.created", "event_data": {nested}}}'.encode()
    sm = f'{{"event_type": "response_completed", "resources": {nested}}}'.encode()
    msg = f'{{"SurveyID": "SV_1", "ResponseID": "R_1", "x": {nested}}}'
    return {
        "generic": (path("generic"), gen, {
            "content-type": js, "x-hotloop-signature": generic.sign(SECRETS["generic"], gen, now),
        }),
        "typeform": (path("typeform"), tf, {"content-type": js,
                                            "typeform-signature": typeform.sign(SECRETS["typeform"], tf)}),
        "formbricks": (path("formbricks"), fb, {
            "content-type": js, "webhook-id": "msg-deep", "webhook-timestamp": str(now),
            "webhook-signature": formbricks.sign(SECRETS["formbricks"], fb, msg_id="msg-deep", timestamp=now),
        }),
        "delighted": (path("delighted"), dl, {
            "content-type": js, "x-delighted-webhook-signature": delighted.sign(SECRETS["delighted"], dl),
        }),
        "qualtrics": (path("qualtrics"),
                      qualtrics.form_body("surveyengine.completedResponse.SV_1", msg, SECRETS["qualtrics"]),
                      {"content-type": "application/x-www-form-urlencoded"}),
        "surveymonkey": (path("surveymonkey"), sm, {
            "content-type": js, "sm-signature": surveymonkey.sign(SECRETS["surveymonkey"], sm),
        }),
    }  # fmt: skip


def deep_slack_requests(now: int) -> dict[str, tuple[bytes, dict[str, str]]]:
    nested = deep_json()
    event = f'{{"type": "event_callback", "event_id": "Ev0DEEP", "event": {nested}}}'.encode()
    action = urlencode({"payload": f'{{"type": "block_actions", "actions": {nested}}}'}).encode()
    form = "application/x-www-form-urlencoded"
    return {
        "event, signed": (event, {"content-type": "application/json", **slack_sign(event, timestamp=now)}),
        "event, unsigned": (event, {"content-type": "application/json"}),
        "interactivity, signed": (action, {"content-type": form, **slack_sign(action, timestamp=now)}),
        "not UTF-8, unsigned": (b"payload=\xff\xfe{", {"content-type": form}),
        "a JSON array, unsigned": (b"[1, 2]", {"content-type": "application/json"}),
    }


def deep_teams_requests(service_url: str) -> dict[str, tuple[bytes, dict[str, str]]]:
    nested = deep_json()
    body = f'{{"type": "message", "serviceUrl": "{service_url}", "value": {nested}}}'.encode()
    return {
        "with a valid token": (
            body,
            {"content-type": "application/json", "authorization": f"Bearer {token(service_url)}"},
        ),
        "without a token": (body, {"content-type": "application/json"}),
    }


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_oversize_bodies_are_413_without_being_read(guarded: World, path: str) -> None:
    before = await guarded.settled_rows()
    for chunked in (False, True):
        result = await upload(guarded.server.url, path, chunked=chunked)
        how = "chunked" if chunked else "Content-Length"
        assert result.status_line.startswith(b"HTTP/1.1 413"), (how, result.status_line)
        assert result.elapsed < 2.0, (how, result.elapsed)
        assert result.sent < 4 * MiB, f"{how}: {result.sent} bytes went in before the 413"
    # and through an ordinary client: the declared length alone is enough to refuse
    reply = await guarded.server.client.post(
        path, content=b"{" + b" " * (256 * 1024 + 1) + b"}", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413 and "larger than" in reply.json()["error"]
    assert await guarded.rows() == before


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_deeply_nested_bodies_are_a_clear_4xx(guarded: World, path: str) -> None:
    now = int(time.time())
    before = await guarded.settled_rows()
    client = guarded.server.client
    answers: dict[str, int] = {}
    if path.startswith("/webhooks"):
        for kind, (where, body, headers) in deep_source_requests(now).items():
            answers[kind] = (await client.post(where, content=body, headers=headers)).status_code
        assert set(answers.values()) == {400}, answers  # README: nested deeper than 32 levels → 400
    elif path == "/slack/events":
        for case, (body, headers) in deep_slack_requests(now).items():
            answers[case] = (await client.post(path, content=body, headers=headers)).status_code
    else:
        for case, (body, headers) in deep_teams_requests(guarded.connector.url).items():
            answers[case] = (await client.post(path, content=body, headers=headers)).status_code
    assert all(400 <= status < 500 for status in answers.values()), answers
    await asyncio.sleep(0.2)
    assert await guarded.rows() == before
    assert guarded.connector.calls() == []
