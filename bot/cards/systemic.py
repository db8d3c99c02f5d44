"""How a systemic issue shows on cards: the parent lists its children, a child names its parents.

A systemic issue's case is an alert of kind "systemic" (key SYS-<n>, storage/queries/systemic.py); its
card is an ordinary card (header, state, buttons) whose body is the summary sentence and the children,
each a `ChildLine`: key, severity, customer, the start of the comment, status and owner, and links.

Links are decided here, once, for every platform: `link` is the dashboard's page for the child
(`<HOTLOOP_PUBLIC_URL>/app/alerts/<KEY>`) when a public URL is configured; `slack_link` is the child's
own card message in Slack (`https://slack.com/archives/<channel>/p<ts>`), from its `CardRef`. Slack
shows `link` or else `slack_link`; Teams shows `link` or the plain key. The public URL is a process
setting, not a per-card input: `configure_card_links` is called by `bot.context.Context.open` (the web
app, the workers and the CLI all open one), so every place that builds a card builds the same links.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from bot.cards.facts import cut, inert
from bot.domain import AlertStatus, Severity
from storage.queries.systemic import ChildRow

CHILDREN_SHOWN_MAX = 15  # children listed on the card face ("and N more" after them)
CHILDREN_COMPACT_MAX = 5  # … at rendering level 1
CHILDREN_LISTED_MAX = 100  # children Details lists (a spike bigger than that: the dashboard lists all)
CHILDREN_LISTED_COMPACT_MAX = 30  # … at rendering level 1 (level 2 lists none, it counts them)
CHILD_COMMENT_MAX = 60  # characters of a child's comment on its line
CHILD_NAME_MAX = 40  # characters of a customer's or owner's name on a child's line
SYSTEMIC_KIND = "systemic"

_SLACK_CHANNEL = re.compile(r"^[A-Z0-9]{2,32}$")
_SLACK_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,8}$")
_URL_UNSAFE = re.compile(r"[\s<>|\"'`\\\[\]()]")


@dataclass(frozen=True)
class ChildLine:
    """One child alert as its parent's card lists it (customer text already `inert`)."""

    key: str
    severity: Severity
    status: AlertStatus
    customer_name: str | None = None
    nps: int | None = None
    comment_start: str | None = None  # ≤ `CHILD_COMMENT_MAX` characters, one line
    owner_name: str | None = None
    link: str | None = None  # the dashboard's page for the child (any platform)
    slack_link: str | None = None  # the child's card message in Slack


@dataclass(frozen=True)
class CardLinks:
    public_url: str = ""

    def alert_page(self, key: str) -> str | None:
        """`<public_url>/app/alerts/<KEY>`, or None without a usable public URL."""
        base = self.public_url.rstrip("/")
        if not base.startswith(("https://", "http://")) or _URL_UNSAFE.search(base):
            return None
        return f"{base}/app/alerts/{quote(key, safe='')}"


_links = CardLinks()


def configure_card_links(public_url: str) -> None:
    """Set the process's public URL for card links (`bot.context.Context.open` calls this)."""
    global _links
    _links = CardLinks(public_url or "")


def card_links() -> CardLinks:
    return _links


def slack_message_link(channel: str, ts: str) -> str | None:
    """A Slack message's archive link (Slack opens it in the reader's workspace); None for anything that
    is not a channel id and a message ts."""
    if not _SLACK_CHANNEL.match(channel) or not _SLACK_TS.match(ts):
        return None
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _one_line(text: str | None, limit: int) -> str | None:
    if not text or not text.strip():
        return None
    flat = " ".join(inert(text).split())
    if len(flat) <= limit:
        return flat
    space = flat.rfind(" ", 0, limit)
    return flat[: space if space > limit // 2 else limit - 1].rstrip() + "…"


def child_lines(
    rows: Sequence[ChildRow], *, slack_places: Mapping[str, tuple[str, str]], links: CardLinks | None = None
) -> tuple[ChildLine, ...]:
    """The parent card's lines for its children; `slack_places`: child key → (channel, ts) of its card."""
    links = links or card_links()
    lines = []
    for row in rows:
        place = slack_places.get(row.key)
        name = inert(row.customer_name).strip() if row.customer_name else ""
        lines.append(ChildLine(
            key=row.key,
            severity=Severity(row.severity),
            status=AlertStatus(row.status),
            customer_name=cut(name, CHILD_NAME_MAX) if name else None,
            nps=row.nps,
            comment_start=_one_line(row.comment_start, CHILD_COMMENT_MAX),
            owner_name=cut(inert(row.owner_name), CHILD_NAME_MAX) if row.owner_name else None,
            link=links.alert_page(row.key),
            slack_link=slack_message_link(*place) if place else None,
        ))
    return tuple(lines)


def child_state(child: ChildLine) -> str:
    """"open", "claimed by Ann Lee", "snoozed · Ann Lee", "resolved" (plain, no markup)."""
    if child.status is AlertStatus.RESOLVED:
        return "resolved"
    if child.owner_name:
        joiner = " by " if child.status is AlertStatus.CLAIMED else " · "
        return f"{child.status.value}{joiner}{child.owner_name}"
    return child.status.value


def children_title(count: int) -> str:
    return f"{count} alert{'s' if count != 1 else ''} in this issue"


def more_children_note(hidden: int) -> str:
    return f"… and {hidden} more: Details lists them all"


def unlisted_note(hidden: int) -> str:
    return f"… and {hidden} more (the dashboard lists every alert)"


def systemic_title(children: int) -> str:
    return f"Systemic issue · {children} alert{'s' if children != 1 else ''}"
