"""`build_teams_chat(settings, ctx)`: the delivery worker's Teams `Chat`, from the settings.

Which serviceUrl a new card thread or direct message goes to, first match wins:

1. the serviceUrl in the stored conversation reference of the destination channel (Conversation
   table, written by adapters/teams/bot.py whenever the bot hears from that conversation);
2. HOTLOOP_TEAMS_SERVICE_URL, an optional environment variable (e.g. a sovereign cloud);
3. the serviceUrl of the most recently heard-from Teams conversation (one tenant, one region);
4. https://smba.trafficmanager.net/teams/ (the global public-cloud endpoint).

Updates and thread replies already carry the serviceUrl in their `CardPlace.conversation_ref`.
Tokens: OAuth client credentials for HOTLOOP_TEAMS_APP_ID/PASSWORD (no token without an app id).
Pacing: `pace_seconds = 1/7` (Teams allows about 7 sends per second per conversation, PROTOCOLS §16).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from adapters.teams.auth import bot_config
from adapters.teams.connector import TeamsChat, TokenProvider
from adapters.teams.tokens import BotTokenProvider
from bot.cards.model import Card, DigestCard
from bot.chat.port import Posted
from bot.chat.state import conversation_reference
from bot.context import Context
from bot.settings import Settings
from storage.db import SessionFactory

SERVICE_URL_ENV = "HOTLOOP_TEAMS_SERVICE_URL"
DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
PACE_SECONDS = 1 / 7


class ReferencedTeamsChat(TeamsChat):
    """A `TeamsChat` that starts each conversation at the serviceUrl Teams gave for that place."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        configured_url: str | None,
        token_provider: TokenProvider | None,
        tenant_id: str | None,
        bot_id: str | None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(
            service_url=configured_url or DEFAULT_SERVICE_URL,
            token_provider=token_provider,
            tenant_id=tenant_id,
            bot_id=bot_id,
            timeout=timeout,
        )
        self.pace_seconds = PACE_SECONDS
        self._sessions = sessions
        self._configured_url = configured_url

    async def _reference(self, conversation: str | None) -> Mapping[str, Any]:
        return await conversation_reference(
            self._sessions, platform="teams", conversation=conversation,
            newest_otherwise=not self._configured_url,
        )

    async def _at(self, conversation: str | None) -> TeamsChat:
        """A view of this chat (same HTTP client, tokens and DM cache) aimed at the right serviceUrl."""
        ref = await self._reference(conversation)
        base = str(ref.get("serviceUrl") or self.service_url)
        conv = ref.get("conversation") if isinstance(ref.get("conversation"), Mapping) else {}
        bot = ref.get("bot") if isinstance(ref.get("bot"), Mapping) else {}
        view = TeamsChat(
            service_url=base,
            token_provider=self._token_provider,
            tenant_id=self.tenant_id or (conv or {}).get("tenantId"),
            bot_id=self.bot_id or (bot or {}).get("id"),
            client=self._client,
        )
        view._direct = self._direct
        return view

    async def post_card(self, *, channel: str, card: Card) -> Posted:
        return await (await self._at(channel)).post_card(channel=channel, card=card)

    async def post_digest(self, *, channel: str, digest: DigestCard) -> Posted:
        return await (await self._at(channel)).post_digest(channel=channel, digest=digest)

    async def send_direct(self, *, user: str, text: str, card: Card | None = None,
                          link: tuple[str, str] | None = None) -> None:
        await (await self._at(None)).send_direct(user=user, text=text, card=card, link=link)


def build_teams_chat(settings: Settings, ctx: Context) -> TeamsChat:
    config = bot_config(settings)
    tokens = BotTokenProvider(config) if config.authenticated else None
    configured = os.environ.get(SERVICE_URL_ENV, "").strip() or None
    return ReferencedTeamsChat(
        sessions=ctx.sessions,
        configured_url=configured,
        token_provider=tokens,
        tenant_id=settings.teams_tenant_id or None,
        bot_id=f"28:{config.APP_ID}" if config.APP_ID else None,
    )
