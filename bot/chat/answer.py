"""What a clicked card shows after the click, for the adapter that answers the click itself.

Slack answers through the click's `response_url` (`replace_original`, which does not count against
`chat.update`'s rate tier) and Teams answers the invoke with the card; the outbox's `card.update` then
skips that place (`bot.actions.answered`). The clicked message shows what it showed before, refreshed:
one of the alert's places shows its audience's card, a digest every alert it lists; a card that is no
place of the alert (sent by DM, or a copy) shows the team's card in the team's channel or a DM, the
managers' card anywhere else. When the answer fails, `refresh_later` queues a `card.update` that skips
nothing, so the click is never left showing the old state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.cards.model import Card
from bot.cards.views import load_card, render_places
from bot.config.snapshot import ConfigSnapshot
from bot.outbox import Place, card_update_values
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import CardRef, Outbox


@dataclass(frozen=True)
class ClickedView:
    alert_id: int
    shown: Card | list[Card]  # a list: the clicked message is a digest listing these alerts
    tracked: bool  # the clicked message is one of the alert's places (the outbox would update it)


async def clicked_view(
    sessions: SessionFactory, *, alert_key: str, place: Place, direct: bool, config: ConfigSnapshot,
    now: datetime,
) -> ClickedView | None:
    """What the clicked message (`place`) should show now; None when the alert is gone. `direct`: the
    click came from a direct message with the bot."""
    platform, channel, _ = place
    async with sessions() as session:
        alert = await queries.get_alert(session, key=alert_key)
        if alert is None or alert.id is None:
            return None
        refs = await queries.card_refs(session, alert_id=alert.id)
        ref = _ref_at(refs, place)
        if ref is None or ref.audience != "digest":
            here = (platform, channel) in config.team(alert.team_id).destinations
            audience = ref.audience if ref is not None else ("team" if here or direct else "managers")
            card = await load_card(session, alert_id=alert.id, audience=audience, now=now)
            return ClickedView(alert.id, card, ref is not None) if card is not None else None
    [digest] = await render_places(sessions, places=[ref], now=now)
    return ClickedView(alert.id, digest, True) if isinstance(digest, list) and digest else None


def _ref_at(refs: Sequence[CardRef], place: Place) -> CardRef | None:
    return next((r for r in refs if (r.platform, r.channel, r.message_id) == place), None)


async def refresh_later(sessions: SessionFactory, *, view: ClickedView, now: datetime) -> None:
    """The adapter could not refresh the clicked place: the outbox updates every place of the alert,
    this one included (only a tracked place was skipped; any other has nothing to catch up). Every
    place, not this one alone: the worker sends an alert's pending updates as one call that skips
    only what all of them skip, so this row must skip nothing."""
    if not view.tracked:
        return
    async with transaction(sessions) as session:
        session.add(Outbox(**card_update_values(alert_id=view.alert_id, now=now)))
