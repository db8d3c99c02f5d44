"""`SlackChat`: the `bot.chat.port.Chat` port over Slack's Web API (slack_sdk's AsyncWebClient).

No retries happen here: slack_sdk's retry handlers are switched off and every failure becomes a
`ChatError` the delivery worker reschedules — `retry_after` from a 429's `Retry-After` header,
`permanent=True` for errors no retry can fix (missing channel, revoked token…), `content=True` for a
message Slack refuses for its content (`invalid_blocks`, `msg_too_long`: the worker sends a smaller one).
`ChatError.reason` is Slack's error code ("channel_not_found", "ratelimited"), "http_<status>",
"timeout", "connection_error", or "client_error" (a request slack_sdk refused to build; permanent).

It also implements `bot.chat.port.FindsPosts`: every card and digest the worker posts carries message
`metadata` naming its outbox rows, and `find_posted` looks such a post up with `conversations.history`
(needs the `channels:history` / `groups:history` scopes; Tier 3 and much less for apps outside the
Marketplace, so the worker calls it only for a row whose earlier attempt may have posted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime
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
    fit_card,
    thread_line,
)
from adapters.slack.text import mrkdwn_object, reply_message
from bot.cards.model import Card, DigestCard, card_is_cut
from bot.chat.port import CardPlace, ChatError, Posted

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
# Slack refused the message itself: the same payload never passes, a smaller one may
CONTENT_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_many_attachments", "invalid_attachments"}
)
# answers after which Slack may have done the work anyway ("fatal_error": "some aspect of the operation
# may have succeeded"); any other `ok: false` means nothing was posted
MAYBE_DONE_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
DEFAULT_RETRY_AFTER = 1.0
METADATA_EVENT = "hotloop_outbox"
HISTORY_PAGE = 15  # what conversations.history returns per call to apps outside the Marketplace
HISTORY_PAGES = 4


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
        headers = getattr(response, "headers", None)
        return ChatError("ratelimited", retry_after=_retry_after(headers), unsent=True)
    unsent = bool(code) and code not in MAYBE_DONE_ERRORS and status < 500
    if code in CONTENT_ERRORS:
        return ChatError(code, content=True)
    if code in PERMANENT_ERRORS:
        return ChatError(code, permanent=True, unsent=unsent)
    return ChatError(code or f"http_{status}", unsent=unsent)


def _label(rows: Sequence[int]) -> dict[str, Any]:
    """Message metadata naming the outbox rows a post delivers (a string list: any payload size)."""
    payload = {"outbox_id": rows[0], "outbox_ids": ",".join(str(r) for r in rows)}
    return {"event_type": METADATA_EVENT, "event_payload": payload}


def _labelled_rows(message: Mapping[str, Any]) -> set[int]:
    metadata = message.get("metadata") or {}
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != METADATA_EVENT:
        return set()
    payload = metadata.get("event_payload") or {}
    raw = f"{payload.get('outbox_id', '')},{payload.get('outbox_ids', '')}"
    return {int(part) for part in raw.split(",") if part.strip().isdigit()}


class SlackChat:
    """The Slack implementation of `bot.chat.port.Chat`."""

    platform = "slack"
    # about one chat.postMessage per second per channel: the delivery worker paces lanes by this
    pace_seconds = 1.0
    digest_capacity = DIGEST_CAPACITY  # alerts one digest message can list, each with its Claim button
    # chat.update is Tier 3 (≈ 50 a minute) for the whole workspace, not per channel: a 429 on one card
    # update holds every update (jobs.delivery_places)
    workspace_limited = frozenset({"update_card", "update_digest"})

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
        return await self._post_card(channel, card, {})

    async def post_card_labelled(self, *, channel: str, card: Card, rows: Sequence[int]) -> Posted:
        return await self._post_card(channel, card, {"metadata": _label(rows)})

    async def _post_card(self, channel: str, card: Card, extra: dict[str, Any]) -> Posted:
        response = await self._post(channel=channel, **card_message(card), **extra)
        ts = str(response["ts"])
        cut = card_is_cut(fit_card(card))  # the worker posts the whole response in the thread
        return Posted(str(response.get("channel") or channel), ts, ts, extra={"cut": cut})

    async def find_posted(self, *, channel: str, rows: Sequence[int], since: datetime) -> dict[int, Posted]:
        """Posts in `channel` since `since` labelled with any of `rows` (a few pages, newest first)."""
        found: dict[int, Posted]
        wanted, found = set(rows), {}
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            page = await self._call(
                self.client.conversations_history(
                    channel=channel, oldest=f"{since.timestamp():.6f}", include_all_metadata=True,
                    limit=HISTORY_PAGE, cursor=cursor,
                )
            )
            for message in page.get("messages") or []:
                ts = str(message.get("ts", ""))
                for row in _labelled_rows(message) & wanted:
                    found[row] = Posted(channel, ts, ts)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if found.keys() >= wanted or not page.get("has_more") or not cursor:
                break
        return found

    async def update_card(self, *, place: CardPlace, card: Card) -> None:
        message = card_message(card)
        await self._call(self.client.chat_update(channel=place.channel, ts=place.message_id, **message))

    async def post_reply(self, *, place: CardPlace, text: str, mention: str | None = None) -> None:
        thread_ts = place.thread_id or place.message_id
        await self._post(channel=place.channel, thread_ts=thread_ts, **reply_message(text, mention))

    async def send_direct(self, *, user: str, text: str, card: Card | None = None) -> None:
        opened = await self._call(self.client.conversations_open(users=user))
        channel = str(opened["channel"]["id"])
        line = thread_line(text)
        if card is None:
            await self._post(channel=channel, text=line)
            return
        intro = {"type": "section", "text": mrkdwn_object(line)}
        blocks = [intro, *card_message(card)["blocks"]][:MAX_BLOCKS]
        await self._post(channel=channel, text=fallback(text), blocks=blocks)

    async def post_digest(self, *, channel: str, digest: DigestCard) -> Posted:
        return await self._post_digest(channel, digest, {})

    async def post_digest_labelled(self, *, channel: str, digest: DigestCard, rows: Sequence[int]) -> Posted:
        return await self._post_digest(channel, digest, {"metadata": _label(rows)})

    async def _post_digest(self, channel: str, digest: DigestCard, extra: dict[str, Any]) -> Posted:
        response = await self._post(channel=channel, **digest_message(digest), **extra)
        ts = str(response["ts"])
        shown, more = digest_fit(digest)
        extra = {"alert_keys": [item.alert_key for item in shown], "more": more}
        where = str(response.get("channel") or channel)
        return Posted(channel=where, message_id=ts, thread_id=ts, extra=extra)

    async def update_digest(self, *, place: CardPlace, digest: DigestCard) -> None:
        message = digest_message(digest)
        await self._call(self.client.chat_update(channel=place.channel, ts=place.message_id, **message))
