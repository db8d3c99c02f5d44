"""`/hotloop web` (Slack) or `web` (to the bot in Teams): a dashboard sign-in link, for the caller only.

The reply is marked secret: Slack shows command replies only to the caller (ephemeral), Teams sends a
secret reply as a 1:1 message when asked in a channel. The link is bound to the caller and to the teams
whose channel (alert or managers' channel) it was asked from: a member sees "my team" on the dashboard.
"""

from __future__ import annotations

from bot.commands.base import Caller, CommandReply, ReplyLink, UsageError
from bot.config.snapshot import ConfigSnapshot
from bot.context import Context
from bot.domain import utcnow
from bot.web.signin import LOGIN_PATH, SIGNIN_SECONDS, SigninLinks, issue

NO_PUBLIC_URL = (
    "The dashboard needs hotloop's public address to make a sign-in link: ask the admin to set "
    "HOTLOOP_PUBLIC_URL (for example https://hotloop.example.com) and restart hotloop."
)


def teams_of_channel(config: ConfigSnapshot, *, platform: str, channel: str | None) -> list[int]:
    """The teams whose alert or managers' channel on this platform is `channel`."""
    if not channel:
        return []
    return sorted(team.id for team in config.teams.values()
                  if (platform, channel) in (*team.destinations, *team.manager_destinations))


async def web_link(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    if args.strip():
        raise UsageError("'web' takes no arguments")
    base = ctx.settings.public_url.rstrip("/")
    if not base:
        return CommandReply(NO_PUBLIC_URL, ok=False)
    actor = caller.actor
    if actor.platform not in ("slack", "teams") or not actor.id:
        return CommandReply("Dashboard links are for Slack and Teams users.", ok=False)
    teams = teams_of_channel(await ctx.config.get(), platform=actor.platform, channel=caller.channel)
    token = await issue(ctx.sessions, SigninLinks.from_settings(ctx.settings), platform=actor.platform,
                        user_id=actor.id, user_name=actor.name, teams=teams, now=utcnow())
    minutes = SIGNIN_SECONDS // 60
    return CommandReply(
        f"Your sign-in link to the hotloop dashboard: it works once, for {minutes} minutes. Do not share it.",
        secret=True,
        link=ReplyLink(url=f"{base}{LOGIN_PATH}{token}", label="Sign in to the hotloop dashboard"),
    )
