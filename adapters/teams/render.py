"""Neutral card → Adaptive Card 1.5 for Microsoft Teams (pure functions, no I/O, no SDK).

The card face, in the order an agent reads it (notes/card_spec.md):

    header (key · state, on the state's colour) → customer name, due time (bold; attention colour when
    overdue), contact → comment (a cut says so) → low answers only → why → facts → actions

The actions (`adapters/teams/card_actions.py`): the visible buttons, "Details" (every answer and the
whole comment) and one "More" menu, at most five. Customer text is escaped with `escape_markdown`
before it reaches any `TextBlock`. `adapters/teams/card_size.py` lowers `Card.comment_max` /
`answers_max` to keep a card under Teams' message size; whatever is left out is said on the card.
"""

from __future__ import annotations

import re

from adapters.teams.card_actions import action_rows, execute
from adapters.teams.markup import Json, answer_block, escape_markdown, fact_set, text_block
from bot.action_ids import ActionId
from bot.cards.model import (
    SEVERITY_EMOJI,
    Card,
    CardState,
    DigestCard,
    DigestItem,
    cut_note,
    listed_children,
    low_answers,
    shown_children,
    shown_comment,
)
from bot.cards.systemic import ChildLine, child_state, children_title, more_children_note, unlisted_note
from bot.domain import AlertStatus

__all__ = ["CONTENT_TYPE", "Json", "card_attachment_content", "digest_attachment_content", "escape_markdown"]

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
FACE_COMMENT_MAX = 500  # characters of the comment on the card face; Details shows the rest
FACE_ANSWERS_MAX = 5  # low answers on the card face; Details shows every answer
STATE_STYLE = {  # the header's container style: Teams colours it
    CardState.OPEN: "attention",
    CardState.CLAIMED: "accent",
    CardState.ESCALATED: "warning",
    CardState.SNOOZED: "emphasis",
    CardState.RESOLVED: "good",
}


def _header(card: Card) -> Json:
    """Key and state on the state's colour: a channel of cards scans for what is unhandled."""
    state = escape_markdown(card.state_text or card.status.value.capitalize())
    about = f"{card.severity.value.capitalize()} · {escape_markdown(card.title)}"
    return {
        "type": "Container",
        "style": STATE_STYLE[card.state],
        "bleed": True,
        "items": [
            text_block(f"**{escape_markdown(card.alert_key)}** · {state}", size="Medium", weight="Bolder"),
            text_block(about, isSubtle=True, size="Small", spacing="None"),
        ],
    }


def _customer(card: Card) -> list[Json]:
    """Whom to call and by when, right under the header: the name, the due time (bold, attention
    colour when overdue) and, for the team, the contact details."""
    blocks: list[Json] = []
    if card.customer_name:
        blocks.append(text_block(escape_markdown(card.customer_name), weight="Bolder"))
    if card.sla_text and card.state is not CardState.SNOOZED:  # a snoozed card's header says until when
        due = text_block(f"⏰ {escape_markdown(card.sla_text)}", weight="Bolder", spacing="Small")
        blocks.append({**due, "color": "attention"} if card.sla_overdue else due)
    if card.audience == "team" and card.contact:
        contact = " · ".join(escape_markdown(line) for line in card.contact)
        blocks.append(text_block(contact, isSubtle=True, spacing="Small"))
    return blocks


def _part_of(card: Card) -> list[Json]:
    """"🔗 Part of SYS-3", right under the customer and due lines."""
    if not card.part_of:
        return []
    keys = ", ".join(f"**{escape_markdown(key)}**" for key in card.part_of)
    return [text_block(f"🔗 Part of {keys}", color="accent", spacing="Small")]


def child_text(child: ChildLine) -> str:
    """"🔴 **HA-12** · Dana Scully · NPS 2 · “Waited 40 minutes…” · claimed by Ann Lee" (escaped)."""
    parts = [f"{SEVERITY_EMOJI.get(child.severity.value, '')} **{escape_markdown(child.key)}**"]
    if child.customer_name:
        parts.append(escape_markdown(child.customer_name))
    if child.nps is not None:
        parts.append(f"NPS {child.nps}")
    if child.comment_start:
        parts.append(f"“{escape_markdown(child.comment_start)}”")
    parts.append(escape_markdown(child_state(child)))
    return " · ".join(parts)


def _child_row(child: ChildLine) -> Json:
    """One child, one line; the whole line opens the child's dashboard page when there is one (a
    Markdown link would let customer text make links too: the official renderer check forbids any)."""
    row = text_block(child_text(child), size="Small", spacing="Small")
    link = child.link
    if not link or not link.startswith(("https://", "http://")):
        return row
    row.pop("spacing")
    return {"type": "Container", "spacing": "Small", "items": [row],
            "selectAction": {"type": "Action.OpenUrl", "title": "Open", "url": link}}


def _systemic(card: Card) -> list[Json]:
    """A systemic issue's summary sentence, then its children (≤ `children_max`, then a note)."""
    blocks: list[Json] = []
    if card.systemic_summary:  # hotloop's words around customer-given values: all of it escaped, no **
        summary = escape_markdown(card.systemic_summary.replace("*", ""))
        blocks.append({"type": "Container", "style": "emphasis", "items": [text_block(f"📈 {summary}")]})
    if not card.children:
        return blocks
    shown, hidden = shown_children(card)
    blocks.append(text_block(children_title(len(card.children)), weight="Bolder", size="Small"))
    blocks.extend(_child_row(child) for child in shown)
    if hidden:
        listed = len(listed_children(card)[0])
        note = more_children_note(hidden) if listed > len(shown) else unlisted_note(hidden)
        blocks.append(text_block(note, isSubtle=True, size="Small", spacing="Small"))
    return blocks


def face_comment(card: Card) -> tuple[str, str | None]:
    """The comment as the card face shows it (at most `FACE_COMMENT_MAX` characters, cut at a word) and
    the note saying what is left out and where it is (None when nothing is)."""
    comment = card.comment or ""
    in_details, in_thread = shown_comment(card)
    face = in_details
    if len(face) > FACE_COMMENT_MAX:
        space = face.rfind(" ", 0, FACE_COMMENT_MAX)
        face = face[: space if space > FACE_COMMENT_MAX // 2 else FACE_COMMENT_MAX].rstrip()
    if len(face) == len(comment):
        return face, None
    if len(face) < len(in_details):
        more = len(comment) - len(face)
        return face, f"…(cut — {more:,} more characters: press Details for the whole comment)"
    return face, cut_note(in_thread)


def _comment(card: Card) -> list[Json]:
    if not card.comment:
        return []
    face, note = face_comment(card)
    items = [text_block(escape_markdown(face))] if face else []
    if note:
        items.append(text_block(escape_markdown(note), isSubtle=True, size="Small", spacing="Small"))
    return [{"type": "Container", "style": "emphasis", "items": items}]


def _low_answers(card: Card) -> list[Json]:
    """Only the low answers (the rest are under Details), and how many others there are."""
    every_low = low_answers(card)
    low = every_low[: min(FACE_ANSWERS_MAX, max(card.answers_max, 0))]
    blocks = [answer_block(a.question, a.value, is_low=True) for a in low]
    others = len(card.answers) - len(low)
    if others:
        plural = "s" if others != 1 else ""
        of_them = f" ({len(every_low) - len(low)} of them low)" if len(every_low) > len(low) else ""
        note = f"{others} more answer{plural} under Details{of_them}"
        blocks.append(text_block(note, isSubtle=True, size="Small", spacing="Small"))
    return blocks


def _reasons(card: Card) -> list[Json]:
    if not card.reasons:
        return []
    why = " · ".join(escape_markdown(reason) for reason in card.reasons)
    return [text_block(f"Why: {why}", isSubtle=True, size="Small")]


def _facts(card: Card) -> list[Json]:
    """Source, received, team, region…: last, for whoever needs them (and the owner, when the header
    does not name them: snoozed, resolved)."""
    owner = card.owner_name if card.owner_name and card.owner_name not in card.state_text else None
    facts = [*card.facts, *([("Owner", owner)] if owner else [])]
    facts += [("Resolution", card.resolution)] if card.resolution else []
    return [{**fact_set(facts), "separator": True}] if facts else []


def _envelope(body: list[Json], fallback_text: str) -> Json:
    card: Json = {
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "$schema": CARD_SCHEMA,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if fallback_text:
        card["fallbackText"] = fallback_text
    return card


def card_attachment_content(card: Card) -> Json:
    """The Adaptive Card for an alert card (the `content` of an attachment)."""
    body = [
        _header(card),
        *_customer(card),
        *_part_of(card),
        *_systemic(card),
        *_comment(card),
        *_low_answers(card),
        *_reasons(card),
        *_facts(card),
        *action_rows(card),
    ]
    return _envelope(body, card.fallback_text)


def _digest_lines(item: DigestItem) -> list[Json]:
    """Key, severity and customer; the due time (overdue marked); the start of the comment."""
    emoji = SEVERITY_EMOJI.get(item.severity.value, "")
    who = f" · {escape_markdown(item.customer_name)}" if item.customer_name else ""
    part_of = "".join(f" · {escape_markdown(key)}" for key in item.part_of)  # "· SYS-3": small, last
    head = f"{emoji} **{escape_markdown(item.alert_key)}** · {item.severity.value}{who}{part_of}"
    lines = [text_block(head)]
    state = f"claimed by {item.owner_name}" if item.owner_name else item.status.value
    if item.due_text:
        mark = "⚠ OVERDUE · " if item.overdue else ""
        also = "" if state.lower() in item.due_text.lower() else f" · {escape_markdown(state)}"
        due = text_block(f"{mark}{escape_markdown(item.due_text)}{also}", spacing="None", size="Small")
        lines.append({**due, "color": "attention", "weight": "Bolder"} if item.overdue else due)
    else:
        lines.append(text_block(escape_markdown(state), spacing="None", size="Small", isSubtle=True))
    if item.comment_start:
        lines.append(text_block(f"“{escape_markdown(item.comment_start)}”", spacing="None", size="Small"))
    if item.summary and not (item.customer_name or item.comment_start or item.due_text):
        lines.append(text_block(escape_markdown(item.summary), spacing="None", size="Small", isSubtle=True))
    return lines


def _digest_item(item: DigestItem, *, claim: bool) -> Json:
    """One alert of a digest: its lines, and its Claim button on the same row, at the right."""
    buttons: list[Json] = []
    if claim and item.status is AlertStatus.OPEN:  # lean: a full digest holds `DIGEST_CAPACITY` of these
        buttons.append(execute(ActionId.CLAIM, "Claim", {"alert": item.alert_key}, style="positive"))
    if item.link and item.link.startswith(("https://", "http://")):
        buttons.append({"type": "Action.OpenUrl", "title": "Open", "url": item.link})
    columns: list[Json] = [{"type": "Column", "width": "stretch", "items": _digest_lines(item)}]
    if buttons:
        sets = [{"type": "ActionSet", "actions": [button]} for button in buttons]
        column = {"type": "Column", "width": "auto", "verticalContentAlignment": "Center", "items": sets}
        columns.append(column)
    return {"type": "ColumnSet", "separator": True, "columns": columns}


def digest_attachment_content(digest: DigestCard) -> Json:
    """One card listing several alerts, each with a Claim button while it is open."""
    body: list[Json] = [text_block(escape_markdown(digest.title), size="Medium", weight="Bolder")]
    if digest.figures:
        body.append(fact_set(list(digest.figures)))
    chart = digest.meta.get("chart_url")
    if chart and chart.startswith(("https://", "http://")):  # the week's chart, bot/web/chart_links.py
        alt = digest.meta.get("chart_alt") or "Chart of the week's figures"
        body.append({"type": "Image", "url": chart, "altText": alt, "size": "Stretch"})
    body.extend(_digest_item(item, claim=digest.with_claim_buttons) for item in digest.items)
    if digest.more:
        body.append(text_block(f"… and {digest.more} more", isSubtle=True))
    return _envelope(body, digest.fallback_text or digest.title)


def attachment(content: Json) -> Json:
    return {"contentType": CONTENT_TYPE, "content": content}


# a Teams user id ("29:…", "8:orgid:…") or an Entra object id: what an `<at>` mention can name
_TEAMS_USER = re.compile(r"^(?:\d+:\S+|[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})$")


_OWN_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+")  # no parentheses, brackets, spaces


def message_text(text: str, mention: str | None = None, *, mention_name: str | None = None,
                 link: tuple[str, str] | None = None) -> Json:
    """A thread-reply activity. A user `mention` becomes an `<at>` mention entity; not "channel".
    `link` (label, url): a link hotloop made (e.g. a dashboard sign-in link), the one clickable part."""
    body = escape_markdown(text)
    if link is not None and _OWN_URL.fullmatch(link[1]):
        body += f"\n\n[{escape_markdown(link[0])}]({link[1]})"
    activity: Json = {"type": "message", "textFormat": "markdown", "text": body}
    if mention and _TEAMS_USER.match(mention):  # a Slack owner's id (U…) or "here" is no Teams user
        name = escape_markdown(mention_name or "you")
        tag = f"<at>{name}</at>"
        activity["text"] = f"{tag} {body}"
        activity["entities"] = [{"type": "mention", "text": tag, "mentioned": {"id": mention, "name": name}}]
    return activity
