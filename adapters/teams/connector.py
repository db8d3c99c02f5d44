"""`Chat` for Microsoft Teams over the Bot Connector REST API (httpx, no SDK, so it stays swappable).

New cards start a channel thread (`POST /v3/conversations` with `channelData.channel.id`); the answer's
conversation id is the thread, its `activityId` the card. Updates `PUT` that activity, replies `POST`
into the thread, direct messages create (and remember) a 1:1 conversation first. Cards are sent without
text in the same activity (PROTOCOLS §15). The connector never retries: failures become `ChatError`,
retryable for 408/412/429/5xx/timeouts (with `Retry-After` when given), a content error for 413 (the
worker sends a smaller card), permanent for other 4xx. Cards are fitted to Teams' size limit first
(`card_size`).

Teams has no way to look a bot's message up, so unlike Slack this chat cannot find a post whose
recording failed: the delivery worker counts such a repeat (`hotloop_deliveries_total{result=
"unverified_repost"}`) and logs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from adapters.teams.card_size import DIGEST_CAPACITY, card_content, digest_content, fit_card
from adapters.teams.render import attachment, message_text
from bot.cards.model import Card, DigestCard, card_is_cut
from bot.chat.port import CardPlace, ChatError, Posted

Json = dict[str, Any]
TokenProvider = Callable[[], Awaitable[str]]

_RETRYABLE = frozenset({408, 412, 429})
_TOO_BIG = ("MessageSizeTooBig", "too large", "too big")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_for(response: httpx.Response) -> ChatError:
    status = response.status_code
    reason = f"teams connector HTTP {status}: {response.text[:200]}"
    if status == 413 or (status == 400 and any(word in response.text for word in _TOO_BIG)):
        return ChatError(reason, content=True)
    retryable = status in _RETRYABLE or status >= 500
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if retryable else None
    return ChatError(reason, permanent=not retryable, retry_after=retry_after)


def _activity(content: Json) -> Json:
    return {"type": "message", "attachments": [attachment(content)]}


class TeamsChat:
    platform = "teams"
    digest_capacity = DIGEST_CAPACITY  # alerts one digest message holds within Teams' size limit

    def __init__(
        self,
        *,
        service_url: str,
        token_provider: TokenProvider | None,
        tenant_id: str | None,
        timeout: float = 10.0,
        bot_id: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self.tenant_id = tenant_id
        self.bot_id = bot_id
        self._token_provider = token_provider
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = client is None
        self._direct: dict[str, str] = {}

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> TeamsChat:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- HTTP ---------------------------------------------------------------------------------------

    async def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        token = await self._token_provider() if self._token_provider else ""
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _call(self, method: str, url: str, body: Json) -> Json:
        try:
            response = await self._client.request(method, url, json=body, headers=await self._headers())
        except httpx.TimeoutException as exc:
            raise ChatError(f"teams connector timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise ChatError(f"teams connector unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise error_for(response)
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise ChatError("teams connector answered with invalid JSON") from exc
        return data if isinstance(data, dict) else {}

    def _base(self, place: CardPlace | None = None) -> str:
        ref = place.conversation_ref if place else None
        url = ref.get("serviceUrl") if ref else None
        return str(url).rstrip("/") if url else self.service_url

    @staticmethod
    def _conversation_path(conversation_id: str) -> str:
        return f"/v3/conversations/{quote(conversation_id, safe='')}/activities"

    # -- conversations ------------------------------------------------------------------------------

    async def _start_thread(self, channel: str, activity: Json) -> Posted:
        body: Json = {"isGroup": True, "channelData": {"channel": {"id": channel}}, "activity": activity}
        if self.tenant_id:
            body["channelData"]["tenant"] = {"id": self.tenant_id}
        if self.bot_id:
            body["bot"] = {"id": self.bot_id}
        data = await self._call("POST", f"{self.service_url}/v3/conversations", body)
        thread, activity_id = data.get("id"), data.get("activityId")
        if not thread or not activity_id:
            raise ChatError(f"teams connector did not return conversation/activity ids: {data}")
        ref = {
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "activityId": activity_id,
            "conversation": {"id": thread, "isGroup": True, "conversationType": "channel"},
        }
        return Posted(
            channel=channel, message_id=str(activity_id), thread_id=str(thread), conversation_ref=ref
        )

    async def _send(self, conversation_id: str, activity: Json, *, base: str | None = None) -> str:
        url = f"{base or self.service_url}{self._conversation_path(conversation_id)}"
        data = await self._call("POST", url, activity)
        return str(data.get("id", ""))

    async def _direct_conversation(self, user: str) -> str:
        if user in self._direct:
            return self._direct[user]
        body: Json = {"isGroup": False, "members": [{"id": user}]}
        if self.tenant_id:
            body["tenantId"] = self.tenant_id
            body["channelData"] = {"tenant": {"id": self.tenant_id}}
        if self.bot_id:
            body["bot"] = {"id": self.bot_id}
        data = await self._call("POST", f"{self.service_url}/v3/conversations", body)
        conversation = data.get("id")
        if not conversation:
            raise ChatError(f"teams connector did not return a conversation id: {data}")
        self._direct[user] = str(conversation)
        return self._direct[user]

    async def member_name(self, *, conversation_id: str, user_id: str) -> str | None:
        """A member's display name (GET v3/conversations/{id}/members/{userId}; `user_id` may be an Entra
        object id); None when the connector does not know them or cannot be reached."""
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/members/{quote(user_id, safe='')}"
        try:
            response = await self._client.get(f"{self.service_url}{path}", headers=await self._headers())
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name.strip():
            return None
        return name.strip()[:255]

    # -- Chat port ----------------------------------------------------------------------------------

    async def post_card(self, *, channel: str, card: Card) -> Posted:
        posted = await self._start_thread(channel, _activity(card_content(card)))
        cut = card_is_cut(fit_card(card))  # the worker posts the whole response in the thread
        return replace(posted, extra={"cut": cut})

    async def _replace(self, place: CardPlace, content: Json) -> None:
        conversation = place.thread_id or place.channel
        url = f"{self._base(place)}{self._conversation_path(conversation)}/{quote(place.message_id, safe='')}"
        await self._call("PUT", url, {**_activity(content), "id": place.message_id})

    async def update_card(self, *, place: CardPlace, card: Card) -> None:
        await self._replace(place, card_content(card))

    async def update_digest(self, *, place: CardPlace, digest: DigestCard) -> None:
        await self._replace(place, digest_content(digest))

    async def post_reply(self, *, place: CardPlace, text: str, mention: str | None = None,
                         link: tuple[str, str] | None = None) -> None:
        conversation = place.thread_id or place.channel
        await self._send(conversation, message_text(text, mention, link=link), base=self._base(place))

    async def send_direct(self, *, user: str, text: str, card: Card | None = None,
                          link: tuple[str, str] | None = None) -> None:
        conversation = await self._direct_conversation(user)
        await self._send(conversation, message_text(text, link=link))
        if card is not None:
            await self._send(conversation, _activity(card_content(card)))

    async def post_digest(self, *, channel: str, digest: DigestCard) -> Posted:
        posted = await self._start_thread(channel, _activity(digest_content(digest)))
        keys = [item.alert_key for item in digest.items]
        return Posted(
            channel=posted.channel,
            message_id=posted.message_id,
            thread_id=posted.thread_id,
            conversation_ref=posted.conversation_ref,
            extra={"alerts": keys},
        )
