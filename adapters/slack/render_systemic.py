"""A systemic issue on Slack cards (pure functions): the parent's summary and children, a child's
"Part of SYS-3". Used by `adapters/slack/render.py` (the card) and `modals.py` (Details).

Every child's text is escaped with `escape_mrkdwn` and sits in a verbatim mrkdwn object, like the rest
of the card. A child's key links to its dashboard page when a public URL is set, else to its own card
message in Slack when it has one (`bot.cards.systemic`); a link that is not a plain http(s) URL is
dropped, never pasted into `<…|…>`.
"""

from __future__ import annotations

from adapters.slack.text import SECTION_MAX, escape_mrkdwn, truncate
from bot.cards.model import SEVERITY_EMOJI, Card, listed_children, shown_children
from bot.cards.systemic import ChildLine, child_state, children_title, more_children_note, unlisted_note

LINK_MAX = 500  # a longer URL is not linked (a child's line must stay far below a section's 3,000)
LINE_MAX = 1000  # characters of one child's line


def safe_link(url: str | None) -> str | None:
    """`url` ready for `<url|label>`, or None when it is no plain http(s) URL."""
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "|<> \n"):
        return None
    return url.replace("&", "&amp;")


def _child_link(child: ChildLine) -> str | None:
    link = safe_link(child.link or child.slack_link)
    return link if link and len(link) <= LINK_MAX else None


def child_line(child: ChildLine) -> str:
    """"🔴 <link|HA-12> · *Dana Scully* · NPS 2 · “Waited 40 minutes…” · claimed by Ann Lee"."""
    key = escape_mrkdwn(child.key)
    link = _child_link(child)
    parts = [f"{SEVERITY_EMOJI.get(child.severity.value, '')} " + (f"<{link}|{key}>" if link else f"*{key}*")]
    if child.customer_name:
        parts.append(f"*{escape_mrkdwn(child.customer_name)}*")
    if child.nps is not None:
        parts.append(f"NPS {child.nps}")
    if child.comment_start:
        parts.append(f"“{escape_mrkdwn(child.comment_start)}”")
    parts.append(escape_mrkdwn(child_state(child)))
    return truncate(" · ".join(parts), LINE_MAX)  # the link (≤ `LINK_MAX`) comes first: never cut into


def pack_lines(lines: list[str], limit: int = SECTION_MAX) -> list[str]:
    """Ready mrkdwn lines (each ≤ `limit`) packed into as few section texts as they need."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) + 1 + len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def part_of_line(card: Card) -> str | None:
    """":link: Part of *SYS-3*" (right under the customer and due line)."""
    if not card.part_of:
        return None
    return ":link: Part of " + ", ".join(f"*{escape_mrkdwn(key)}*" for key in card.part_of)


def summary_text(card: Card) -> str | None:
    """The systemic issue's summary sentence (hotloop's own words, built from customer-given values:
    escaped; its *bold* stays bold)."""
    if not card.systemic_summary:
        return None
    return truncate(":chart_with_upwards_trend: " + escape_mrkdwn(card.systemic_summary), SECTION_MAX)


def children_texts(card: Card) -> tuple[list[str], str | None]:
    """The card face's children: section texts (a title line, then ≤ `children_max` lines) and the
    note saying how many more there are and where (None when every child is listed)."""
    if not card.children:
        return [], None
    shown, hidden = shown_children(card)
    lines = [f"*{children_title(len(card.children))}*", *(child_line(child) for child in shown)]
    note = None
    if hidden:
        listed = len(listed_children(card)[0])
        note = more_children_note(hidden) if listed > len(shown) else unlisted_note(hidden)
    return pack_lines(lines), note


def children_detail_lines(card: Card) -> list[str]:
    """Details: the summary, then every child `children_listed_max` allows, one line each, then what is
    left out."""
    summary = summary_text(card)
    if not card.children:
        return [summary] if summary else []
    listed, hidden = listed_children(card)
    lines = [*([summary] if summary else []), f"*{children_title(len(card.children))}*"]
    lines += [child_line(child) for child in listed]
    return [*lines, f"_{escape_mrkdwn(unlisted_note(hidden))}_"] if hidden else lines
