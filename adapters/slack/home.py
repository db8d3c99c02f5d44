"""The App Home tab: "My open alerts", the open queue and this week's loop figures (≤ 100 blocks).

`home_view(ctx, user_id, now)` reads the database; `build_home(...)` is the pure part.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.slack.blocks import VIEW_BLOCKS_MAX, Block, compact_card, context, divider, header, section
from bot.cards.model import Card
from bot.chat.state import home_cards
from bot.context import Context
from bot.metrics import LoopFigures, customer_loop_lines, format_rate, format_seconds, loop_figures

PLATFORM = "slack"  # "my" alerts are those owned by this Slack user, not a Teams user with the same id
MINE_MAX = 20
QUEUE_MAX = 10
WEEK = timedelta(days=7)


def figures_text(figures: LoopFigures) -> str:
    return "\n".join(
        [
            f"*Raised:* {figures.raised}    *Open:* {figures.open}    *Claimed:* {figures.claimed}"
            f"    *Resolved:* {figures.resolved}",
            f"*Responded to:* {format_rate(figures.response_rate)} (target 100 %)",
            f"*Median time to claim:* {format_seconds(figures.median_claim)}"
            f"    *to resolve:* {format_seconds(figures.median_resolve)}",
            f"*SLA breaches:* {format_rate(figures.breach_rate)}"
            f"    *Recovered:* {format_rate(figures.recovery_rate)}",
            *(f"*{label}:* {value}" for label, value in customer_loop_lines(figures)),
        ]
    )


def _listing(cards: Sequence[Card], prefix: str, more: int, empty: str) -> list[Block]:
    if not cards:
        return [context(empty, f"{prefix}.empty")]
    blocks: list[Block] = []
    for card in cards:
        blocks.extend(compact_card(card, prefix))
    if more > 0:
        blocks.append(context(f"+{more} more — `/hotloop mine` lists them all", f"{prefix}.more"))
    return blocks


def build_home(
    *, mine: Sequence[Card], mine_more: int, queue: Sequence[Card], figures: LoopFigures | None, now: datetime
) -> dict[str, Any]:
    blocks: list[Block] = [header(f"My open alerts ({len(mine) + mine_more})", "home.mine.header")]
    blocks.extend(_listing(mine, "home.mine", mine_more, "Nothing on your plate. :tada:"))
    blocks.append(divider("home.div.1"))
    blocks.append(header("The queue: open, unclaimed", "home.queue.header"))
    blocks.extend(_listing(queue, "home.queue", 0, "No open alerts waiting for someone."))
    blocks.append(divider("home.div.2"))
    blocks.append(header("This week", "home.week.header"))
    if figures is not None:
        blocks.append(section(figures_text(figures), "home.week.figures"))
    blocks.append(context(f"Updated {now:%Y-%m-%d %H:%M} UTC", "home.updated"))
    if len(blocks) > VIEW_BLOCKS_MAX:  # never expected with the limits above; keep the view valid anyway
        blocks = [*blocks[: VIEW_BLOCKS_MAX - 1], blocks[-1]]
    return {"type": "home", "callback_id": "hotloop.home", "blocks": blocks}


async def home_view(ctx: Context, user_id: str, *, now: datetime) -> dict[str, Any]:
    cards = await home_cards(ctx.sessions, user_id=user_id, platform=PLATFORM, now=now, mine_max=MINE_MAX,
                             queue_max=QUEUE_MAX)
    all_teams = (await loop_figures(ctx.sessions, now=now, window=WEEK))[0]
    return build_home(mine=cards.mine, mine_more=cards.mine_more, queue=cards.queue, figures=all_teams,
                      now=now)
