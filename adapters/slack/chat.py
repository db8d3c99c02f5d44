"""`SlackChat`: the `bot.chat.Chat` port over Slack's Web API (slack_sdk's AsyncWebClient).

No retries happen here: slack_sdk's retry handlers are switched off and every failure becomes a
`ChatError` the delivery worker reschedules — `retry_after` from a 429's `Retry-After` header,
`permanent=True` for errors no retry can fix (missing channel, revoked token, invalid blocks…).
`ChatError.reason` is Slack's error code ("channel_not_found", "ratelimited"), "http_<status>",
"timeout", "connection_error", or "client_error" (a request slack_sdk refused to build; permanent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import (
    DIGEST_CAPACITY,
    MAX_BLOCKS,
    card_message,
    digest_fit,
    digest_message,
    fallback,
    thread_line,
)
from bot.cards import Card, DigestCard
from bot.chat import CardPlace, ChatError, Posted

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "ekm_access_denied",
        "team_access_not_granted",
        "message_not_found",
        "cant_update_message",
        "user_not_found",
        "cannot_dm_bot",
    }
)
DEFAULT_RETRY_AFTER = 1.0


def _retry_after(headers: Mapping[str, str] | None) -> float:
    raw = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        return max(float(raw), 0.0) if raw is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def chat_error(error: SlackApiError) -> ChatError:
    """Map a SlackApiError (HTTP error or `ok: false`) to a ChatError."""
    response = error.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    data = getattr(response, "data", None)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    if status == 429 or code == "ratelimited":
        return ChatError("ratelimited", retry_after=_retry_after(getattr(response, "headers", None)))
    if code in PERMANENT_ERRORS:
        return ChatError(code, permanent=True)
    return ChatError(code or f"http_{status}")


class SlackChat:
    """The Slack implementation of `bot.chat.Chat`."""

    platform = "slack"
    # about one chat.postMessage per second per channel: the delivery worker paces lanes by this
    pace_seconds = 1.0
    digest_capacity = DIGEST_CAPACITY  # alerts one digest message can list, each with its Claim button

    def __init__(self, token: str, *, base_url: str, timeout: float = 10.0) -> None:
        self.client = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,  # type: ignore[arg-type]  # aiohttp.ClientTimeout takes float seconds
            retry_handlers=[],  # the delivery worker reschedules; never sleep in place
        )

    async def _call(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except SlackApiError as exc:
            raise chat_error(exc) from exc
        except TimeoutError as exc:
            raise ChatError("timeout") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ChatError("connection_error") from exc
        except SlackClientError as exc:  # a request slack_sdk refuses to build: retrying cannot help
            raise ChatError("client_error", permanent=True) from exc

    async def _post(self, **kwargs: Any) -> Any:
        return await self._call(
            self.client.chat_postMessage(unfurl_links=False, unfurl_media=False, **kwargs)
        )

    async def post_card(self, *, channel: str, card: Card) -> Posted:
        response = await self._post(channel=channel, **card_message(card))
        ts = str(response["ts"])
        return Posted(channel=str(response.get("channel") or channel), message_id=ts, thread_id=ts)

    async def update_card(self, *, place: CardPlace, card: Card) -> None:
        message = card_message(card)
        await self._call(self.client.chat_update(channel=place.channel, ts=place.message_id, **message))

    async def post_reply(self, *, place: CardPlace, text: str, mention: str | None = None) -> None:
        thread_ts = place.thread_id or place.message_id
        await self._post(channel=place.channel, thread_ts=thread_ts, text=thread_line(text, mention))

    async def send_direct(self, *, user: str, text: str, card: Card | None = None) -> None:
        opened = await self._call(self.client.conversations_open(users=user))
        channel = str(opened["channel"]["id"])
        line = thread_line(text)
        if card is None:
            await self._post(channel=channel, text=line)
            return
        intro = {"type": "section", "text": {"type": "mrkdwn", "text": line}}
        blocks = [intro, *card_message(card)["blocks"]][:MAX_BLOCKS]
        await self._post(channel=channel, text=fallback(text), blocks=blocks)

    async def post_digest(self, *, channel: str, digest: DigestCard) -> Posted:
        response = await self._post(channel=channel, **digest_message(digest))
        ts = str(response["ts"])
        shown, more = digest_fit(digest)
        extra = {"alert_keys": [item.alert_key for item in shown], "more": more}
        where = str(response.get("channel") or channel)
        return Posted(channel=where, message_id=ts, thread_id=ts, extra=extra)

    async def update_digest(self, *, place: CardPlace, digest: DigestCard) -> None:
        message = digest_message(digest)
        await self._call(self.client.chat_update(channel=place.channel, ts=place.message_id, **message))
