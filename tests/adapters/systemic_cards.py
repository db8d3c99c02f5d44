"""Systemic issue cards for the renderer tests (no database): a parent (SYS-3) with its children built
the way `bot.cards.views` builds them (`child_lines` over `ChildRow`s), and a child that is "part of"
it. Customer text in them is hostile on purpose: names and comments full of mentions, links, Markdown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.cards.model import Card, build_card
from bot.cards.systemic import CardLinks, child_lines
from bot.systemic.text import summary
from storage.queries.systemic import ChildRow
from tests.factories import NOW, sample_alert, sample_feedback, sample_team

PUBLIC_URL = "https://hotloop.example"
PARENT_KEY = "SYS-3"
HEADLINE = ("5 detractors mention *delivery late* at location 042 in the last 2 h (baseline 0.2 per 2 h) — "
            "about 125 customers affected (1 in 25 complain)")
# in every child's name and comment (short enough not to be cut off their line): what must never ping,
# link or format on either platform
NAME_HOSTILE = "<!channel> [x](//e.x) **b**"
COMMENT_HOSTILE = "<@U123> <https://e.x|c> www.evil.com &"


def child_rows(count: int, *, status: str = "open", long: bool = False) -> list[ChildRow]:
    """`count` children HA-1…HA-<count>, oldest first; `long`: names and comments as long as they come."""
    rows = []
    for n in range(1, count + 1):
        name = f"Dana {n} {NAME_HOSTILE}" + (" Scully" * 40 if long else "")
        comment = f"Late again {n}, {COMMENT_HOSTILE}" + (" and nobody called back" * 30 if long else "")
        rows.append(ChildRow(key=f"HA-{n}", severity="high", status=status, customer_name=name, nps=2,
                             comment_start=comment, owner_name=None,
                             created_at=NOW - timedelta(minutes=count - n)))
    return rows


def parent_card(children: int = 20, *, public_url: str = PUBLIC_URL, status: str = "open",
                slack_places: dict[str, tuple[str, str]] | None = None, long: bool = False,
                **alert: Any) -> Card:
    """The SYS-3 card its managers see, with `children` children (their links on `public_url`)."""
    text = summary(count=5, detractors=True, dimension="topic", value="delivery late", location="042",
                   window_seconds=7200, baseline_per_window=0.2)
    assert text == HEADLINE
    feedback = sample_feedback(external_id=PARENT_KEY, customer_name=None, customer_email=None,
                               customer_phone=None, nps=None, contact_requested=False, comment=text,
                               answers=[], attributes={"topic": "delivery late"})
    why = ["systemic: 5 alerts share “delivery late”"]
    parent = sample_alert(key=PARENT_KEY, kind="systemic", reasons=why, **alert)
    lines = child_lines(child_rows(children, status=status, long=long), slack_places=slack_places or {},
                        links=CardLinks(public_url))
    return build_card(parent, feedback, sample_team(), source_name="hotloop-systemic", now=NOW,
                      audience="managers", children=lines)


def child_card(*, employee: str = "Jessica C", **alert: Any) -> Card:
    """HA-1001, part of SYS-3, served by `employee`."""
    feedback = sample_feedback(attributes={"location": "042", "employee": employee})
    return build_card(sample_alert(**alert), feedback, sample_team(), source_name="typeform", now=NOW,
                      part_of=(PARENT_KEY,))
