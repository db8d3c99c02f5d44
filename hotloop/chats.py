"""Which `Chat` ports this server has, from the settings. The log port is always there."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.log_chat import LogChat
from adapters.slack.chat import SlackChat
from adapters.teams.wiring import build_teams_chat
from bot.chat.port import Chat
from bot.context import Context
from bot.settings import Settings


def build_chats(settings: Settings, ctx: Context) -> Mapping[str, Chat]:
    chats: dict[str, Chat] = {"log": LogChat()}
    if settings.slack_enabled:
        chats["slack"] = SlackChat(
            settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
        )
    if settings.teams_enabled:
        chats["teams"] = build_teams_chat(settings, ctx)
    return chats
