"""The chat backends the `bot.chat.port.Chat` contract suite runs against (APScheduler style: the suite is
written once; a backend says how to script its loopback fake and how to read what the platform holds).

- `message(place)`, `thread(place)`, `direct(user)`: what the platform now holds, as the payload the
  adapter sent (Slack: `text` and `blocks` of the stored message; Teams: the activity), to compare with
  `expected_*`: what that platform's own renderer makes of a card, digest or line (the renderers have
  their own tests: tests/adapters/slack/test_render.py, tests/adapters/teams/test_render.py).
- `*_next(...)`: the fake answers the next call with a failure; the return value (`Expected`) is what the
  adapter's `ChatError` must say about it.
- `slack_chat_on` / `teams_chat_on`: the adapters as the tests build them (tests/conftest.py's
  `slack_chat` and `teams_chat` fixtures use them too).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.slack.chat import SlackChat
from adapters.slack.render import card_message, digest_message, fallback
from adapters.slack.text import mrkdwn_object, reply_message, thread_line
from adapters.teams.card_size import card_content, digest_content
from adapters.teams.connector import TeamsChat
from adapters.teams.render import attachment, message_text
from bot.cards.model import Card, DigestCard
from bot.chat.port import CardPlace, Chat, Posted
from tests.fakes.bot_connector import ConnectorCall, FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

Payload = dict[str, Any]

TEAMS_TOKEN = "s3cret"  # the bot token teams_chat_on sends and the fake then demands
TEAMS_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@dataclass(frozen=True)
class Expected:
    """What the `ChatError` for a scripted failure says: `reason` (a regular expression it matches) and
    `unsent` (the platform certainly did not act)."""

    reason: str
    unsent: bool


def slack_chat_on(fake: FakeSlackApi, *, timeout: float = 2.0) -> SlackChat:
    return SlackChat(fake.token, base_url=fake.url, timeout=timeout)


@asynccontextmanager
async def teams_chat_on(
    fake: FakeBotConnector, *, token: str | None = TEAMS_TOKEN, timeout: float = 2.0
) -> AsyncIterator[TeamsChat]:
    """A TeamsChat on the fake; the fake then demands the bot token, as Teams does."""
    fake.expected_token = TEAMS_TOKEN

    async def bot_token() -> str:
        return token or ""

    async with TeamsChat(
        service_url=fake.url, token_provider=bot_token, tenant_id=TEAMS_TENANT, timeout=timeout
    ) as chat:
        yield chat


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class Backend(Protocol):
    name: str
    channel: str  # where cards go
    user: str  # who gets direct messages and mentions
    chat: Chat
    # the platform's own failure cases the suite runs (their ids name the tests)
    permanent_refusals: Sequence[str]
    content_refusals: Sequence[str]
    transient_failures: Sequence[int]
    auth_reason: str
    timeout_reason: str
    unreachable_reason: str

    def message(self, place: CardPlace) -> Payload | None: ...
    def thread(self, place: CardPlace) -> list[Payload]: ...
    def direct(self, user: str) -> list[Payload]: ...
    def cards_in_channel(self) -> int: ...
    def attempts(self) -> int: ...
    async def wait_attempts(self, count: int) -> bool: ...

    def expected_card(self, card: Card) -> Payload: ...
    def expected_digest(self, digest: DigestCard) -> Payload: ...
    def expected_reply(self, text: str, mention: str | None = None) -> Payload: ...
    def expected_direct(self, text: str, card: Card | None = None) -> list[Payload]: ...
    def digest_keys(self, posted: Posted) -> list[str]: ...

    def rate_limit_next(self, retry_after: int) -> Expected: ...
    def transient_failure_next(self, status: int) -> Expected: ...
    def refuse_next(self, refusal: str) -> Expected: ...
    def reject_content_next(self, refusal: str) -> Expected: ...
    def delay_next(self, seconds: float) -> None: ...

    def wrong_credentials(self) -> Any: ...  # async context manager → a Chat the platform refuses
    def with_timeout(self, seconds: float) -> Any: ...  # async context manager → a Chat
    def unreachable(self) -> Any: ...  # async context manager → a Chat aimed at a closed port


class SlackBackend:
    name = "slack"
    channel = "C0123456"
    user = "U0ABCDEF"
    dm_channel = "D0ABCDEF"  # the fake's direct-message channel with `user`
    permanent_refusals = ("channel_not_found", "not_in_channel", "is_archived")
    content_refusals = ("invalid_blocks", "invalid_blocks_format", "msg_too_long")
    transient_failures = (500, 502, 503)
    auth_reason = "^invalid_auth$"
    timeout_reason = "^timeout$"
    unreachable_reason = "^connection_error$"

    def __init__(self, fake: FakeSlackApi, chat: SlackChat) -> None:
        self.fake = fake
        self.chat = chat

    # ---- what Slack holds ------------------------------------------------------------------------

    def message(self, place: CardPlace) -> Payload | None:
        found = [m for m in self.fake.messages_in(place.channel) if m["ts"] == place.message_id]
        return _slack_payload(found[0]) if found else None

    def thread(self, place: CardPlace) -> list[Payload]:
        """Replies under the message at `place` (a Slack thread is named by its parent's ts)."""
        messages = self.fake.messages_in(place.channel)
        return [_slack_payload(m) for m in messages if m.get("thread_ts") == place.message_id]

    def direct(self, user: str) -> list[Payload]:
        assert user == self.user, "the fake names direct-message channels after the user"
        return [_slack_payload(m) for m in self.fake.messages_in(self.dm_channel)]

    def cards_in_channel(self) -> int:
        return len([m for m in self.fake.messages_in(self.channel) if "thread_ts" not in m])

    def attempts(self) -> int:
        return len(self.fake.calls())

    async def wait_attempts(self, count: int) -> bool:
        return await asyncio.to_thread(self.fake.wait_for, lambda: len(self.fake.calls()) >= count)

    # ---- what the Slack renderer makes ---------------------------------------------------------

    def expected_card(self, card: Card) -> Payload:
        return card_message(card)

    def expected_digest(self, digest: DigestCard) -> Payload:
        return digest_message(digest)

    def expected_reply(self, text: str, mention: str | None = None) -> Payload:
        return reply_message(text, mention)

    def expected_direct(self, text: str, card: Card | None = None) -> list[Payload]:
        if card is None:
            return [{"text": thread_line(text)}]
        intro = {"type": "section", "text": mrkdwn_object(thread_line(text))}  # the line, then the card
        return [{"text": fallback(text), "blocks": [intro, *card_message(card)["blocks"]]}]

    def digest_keys(self, posted: Posted) -> list[str]:
        return list(posted.extra["alert_keys"])

    # ---- failures --------------------------------------------------------------------------------

    def rate_limit_next(self, retry_after: int) -> Expected:
        self.fake.fail_next(status=429, retry_after=retry_after)
        return Expected("^ratelimited$", unsent=True)

    def transient_failure_next(self, status: int) -> Expected:
        self.fake.fail_next(status=status)  # answered with Slack's `internal_error`
        return Expected("^internal_error$", unsent=False)

    def refuse_next(self, refusal: str) -> Expected:
        self.fake.fail_next(error=refusal, retry_after=5)
        return Expected(f"^{refusal}$", unsent=True)

    def reject_content_next(self, refusal: str) -> Expected:
        self.fake.reject_content(error=refusal)
        return Expected(f"^{refusal}$", unsent=True)

    def delay_next(self, seconds: float) -> None:
        self.fake.fail_next(delay=seconds)

    @asynccontextmanager
    async def wrong_credentials(self) -> AsyncIterator[Chat]:
        yield SlackChat("xoxb-wrong", base_url=self.fake.url)

    @asynccontextmanager
    async def with_timeout(self, seconds: float) -> AsyncIterator[Chat]:
        yield slack_chat_on(self.fake, timeout=seconds)

    @asynccontextmanager
    async def unreachable(self) -> AsyncIterator[Chat]:
        yield SlackChat("xoxb-x", base_url=closed_port_url(), timeout=2)


def _slack_payload(message: Payload) -> Payload:
    return {k: message[k] for k in ("text", "blocks") if k in message}


class TeamsBackend:
    name = "teams"
    channel = "19:abc123@thread.tacv2"
    user = "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39"
    permanent_refusals = ("400", "403", "404")
    content_refusals = ("413",)
    transient_failures = (412, 502, 503, 504)
    auth_reason = "HTTP 401"
    timeout_reason = "timeout"
    unreachable_reason = "unreachable"

    def __init__(self, fake: FakeBotConnector, chat: TeamsChat) -> None:
        self.fake = fake
        self.chat = chat

    # ---- what Teams holds ------------------------------------------------------------------------

    def _answered(self) -> list[ConnectorCall]:
        return [c for c in self.fake.calls() if c.status < 400]

    def message(self, place: CardPlace) -> Payload | None:
        """The last activity that started or replaced the message at `place`."""
        found = [
            c for c in self._answered()
            if c.conversation == place.thread_id and c.activity_id == place.message_id
        ]
        return _teams_activity(found[-1]) if found else None

    def thread(self, place: CardPlace) -> list[Payload]:
        return self._posted_into(place.thread_id)

    def direct(self, user: str) -> list[Payload]:
        return self._posted_into(f"a:dm-{user}")  # the fake's name for the 1:1 conversation with `user`

    def _posted_into(self, conversation: str | None) -> list[Payload]:
        return [
            c.body for c in self._answered()
            if c.method == "POST" and c.conversation == conversation and c.path.endswith("/activities")
        ]

    def cards_in_channel(self) -> int:
        started = [c for c in self._answered() if c.path == "/v3/conversations" and "activity" in c.body]
        return len([c for c in started if c.body["channelData"]["channel"]["id"] == self.channel])

    def attempts(self) -> int:
        return len(self.fake.calls())

    async def wait_attempts(self, count: int) -> bool:
        return await asyncio.to_thread(self.fake.wait_for, lambda calls: len(calls) >= count)

    # ---- what the Teams renderer makes ---------------------------------------------------------

    def expected_card(self, card: Card) -> Payload:
        return {"type": "message", "attachments": [attachment(card_content(card))]}  # no text (§15)

    def expected_digest(self, digest: DigestCard) -> Payload:
        return {"type": "message", "attachments": [attachment(digest_content(digest))]}

    def expected_reply(self, text: str, mention: str | None = None) -> Payload:
        return message_text(text, mention)

    def expected_direct(self, text: str, card: Card | None = None) -> list[Payload]:
        return [message_text(text), *([self.expected_card(card)] if card else [])]  # the line, then the card

    def digest_keys(self, posted: Posted) -> list[str]:
        return list(posted.extra["alerts"])

    # ---- failures --------------------------------------------------------------------------------

    def rate_limit_next(self, retry_after: int) -> Expected:
        self.fake.fail_next(429, retry_after=retry_after)
        return Expected("HTTP 429", unsent=False)

    def transient_failure_next(self, status: int) -> Expected:
        self.fake.fail_next(status)
        return Expected(f"HTTP {status}", unsent=False)

    def refuse_next(self, refusal: str) -> Expected:
        self.fake.fail_next(int(refusal), retry_after=5)
        return Expected(f"HTTP {refusal}", unsent=False)

    def reject_content_next(self, refusal: str) -> Expected:
        assert refusal == "413"
        self.fake.reject_content(1)  # as Teams answers a message too big
        return Expected("HTTP 413", unsent=True)

    def delay_next(self, seconds: float) -> None:
        self.fake.delay_next(seconds)

    @asynccontextmanager
    async def wrong_credentials(self) -> AsyncIterator[Chat]:
        async with teams_chat_on(self.fake, token="wrong-token") as chat:
            yield chat

    @asynccontextmanager
    async def with_timeout(self, seconds: float) -> AsyncIterator[Chat]:
        async with teams_chat_on(self.fake, timeout=seconds) as chat:
            yield chat

    @asynccontextmanager
    async def unreachable(self) -> AsyncIterator[Chat]:
        url = closed_port_url()
        async with TeamsChat(service_url=url, token_provider=None, tenant_id=None, timeout=1.0) as chat:
            yield chat


def _teams_activity(call: ConnectorCall) -> Payload:
    """The message a call carried: a new thread's first activity, or the posted / replacing one."""
    if call.path == "/v3/conversations":
        return dict(call.body["activity"])
    return {k: v for k, v in call.body.items() if k != "id"}  # a replacement names the activity it replaces
