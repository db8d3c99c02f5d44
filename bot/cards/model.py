"""The neutral card: every fact and button an alert card shows, built from the alert's current state.

Renderers (`adapters/slack/render.py`, `adapters/teams/render.py`) turn a `Card` into Block Kit or an
Adaptive Card. Customer text stays raw here except for one thing, done once in `build_card`: invisible
characters that could disguise it (bidirectional overrides and isolates, zero-width characters) are
removed. Escaping is the renderer's job, for its own markup.

A card keeps the whole comment and every answer; `comment_max` / `answers_max` say how much of them to
show. Renderers lower them to fit their platform's limits, the delivery worker lowers them when the
platform refuses a card for its size (`card_at_level`), and whatever is not shown is posted in the
card's thread (`full_response_pieces`): a cut is always said on the card, never silent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.cards.facts import FACT_VALUE_MAX as FACT_VALUE_MAX
from bot.cards.facts import card_facts, card_title, masked, resolution_text, served_by
from bot.cards.facts import cut as _cut
from bot.cards.facts import humanize_delta as humanize_delta
from bot.cards.facts import inert as inert
from bot.cards.states import OUTCOME_LABELS as OUTCOME_LABELS
from bot.cards.states import SNOOZE_CHOICES as SNOOZE_CHOICES
from bot.cards.states import STATE_EMOJI as STATE_EMOJI
from bot.cards.states import CardButton as CardButton
from bot.cards.states import CardState as CardState
from bot.cards.states import card_buttons, card_state, state_text
from bot.cards.systemic import (
    CHILDREN_COMPACT_MAX,
    CHILDREN_LISTED_COMPACT_MAX,
    CHILDREN_LISTED_MAX,
    CHILDREN_SHOWN_MAX,
    SYSTEMIC_KIND,
    systemic_title,
)
from bot.cards.systemic import ChildLine as ChildLine
from bot.domain import AlertStatus, Answer, Severity
from storage.models import Alert, Feedback, Team

SEVERITY_EMOJI = {"critical": "🔴", "high": "🟠", "normal": "🟡", "low": "⚪"}
ROOT_CAUSES = ("product", "service", "staff", "delivery", "billing", "wait time", "facilities", "other")

COMMENT_SHOWN_MAX = 2500  # characters of the comment a card shows; the rest goes to its thread
ANSWERS_SHOWN_MAX = 20
ANSWER_VALUE_MAX = 300
PIECE_MAX = 2500  # characters per thread reply carrying the full response
MAX_LEVEL = 2  # rendering levels: 0 full, 1 compact, 2 minimal (see `card_at_level`)


COMMENT_START_MAX = 100  # characters of the comment a digest line shows


@dataclass(frozen=True)
class AnswerLine:
    question: str
    value: str
    is_low: bool


@dataclass(frozen=True)
class Card:
    alert_key: str
    severity: Severity
    status: AlertStatus
    title: str
    audience: str  # "team" shows customer contact details; "managers" and "digest" do not
    customer_name: str | None
    contact: tuple[str, ...]
    nps: int | None
    answers: tuple[AnswerLine, ...]
    comment: str | None
    reasons: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    sla_text: str | None
    sla_overdue: bool
    owner_name: str | None
    escalation_level: int
    resolution: str | None
    buttons: tuple[CardButton, ...]
    menu: tuple[CardButton, ...]
    fallback_text: str
    version: int = 1
    comment_max: int = COMMENT_SHOWN_MAX
    answers_max: int = ANSWERS_SHOWN_MAX
    state: CardState = CardState.OPEN
    state_text: str = ""  # plain, no markup: "Claimed by Ann Lee", "Resolved · Recovered · by Ann Lee"
    owner_id: str | None = None  # the owner's chat identity: Slack renders <@U…> from it
    owner_platform: str | None = None
    received_at: datetime | None = None  # when the feedback arrived (digests sort by age)
    served_by: str | None = None  # the frontline employee (also the first fact, "Served by")
    part_of: tuple[str, ...] = ()  # keys of the systemic issues this alert belongs to ("SYS-3")
    systemic_summary: str | None = None  # a systemic issue's card: its summary sentence is the body
    children: tuple[ChildLine, ...] = ()  # … and its child alerts, oldest first (all of them)
    children_max: int = CHILDREN_SHOWN_MAX  # children the card face lists ("and N more" after them)
    children_listed_max: int = CHILDREN_LISTED_MAX  # children Details lists


@dataclass(frozen=True)
class DigestItem:
    alert_key: str
    severity: Severity
    summary: str
    status: AlertStatus
    link: str | None = None
    customer_name: str | None = None
    comment_start: str | None = None  # the first ~100 characters of the comment, cut at a word ("…")
    due_text: str | None = None
    overdue: bool = False
    owner_name: str | None = None
    part_of: tuple[str, ...] = ()  # "SYS-3": the line's alert is part of a systemic issue


@dataclass(frozen=True)
class DigestCard:
    title: str
    items: tuple[DigestItem, ...]
    figures: tuple[tuple[str, str], ...] = ()
    with_claim_buttons: bool = True
    more: int = 0  # items left out to stay within platform limits
    fallback_text: str = ""
    meta: dict[str, str] = field(default_factory=dict)


def sla_line(alert: Alert, *, now: datetime) -> tuple[str | None, bool]:
    """"Claim due in 42 min" / "Resolve overdue 10 min" — the clock that matters now."""
    status = AlertStatus(alert.status)
    if status is AlertStatus.RESOLVED:
        return None, False
    if status is AlertStatus.SNOOZED and alert.snoozed_until is not None:
        why = f" ({alert.snooze_reason})" if alert.snooze_reason else ""
        return f"Snoozed until {alert.snoozed_until:%Y-%m-%d %H:%M} UTC{why}", False
    due, label = (
        (alert.claim_due_at, "Claim") if status is AlertStatus.OPEN else (alert.resolve_due_at, "Resolve")
    )
    if due is None:
        return None, False
    delta = (due - now).total_seconds()
    if delta >= 0:
        return f"{label} due in {humanize_delta(delta)}", False
    return f"{label} overdue {humanize_delta(delta)}", True


def _answer_line(raw: dict[str, object]) -> AnswerLine:
    answer = Answer.model_validate(raw)
    position = answer.position
    is_low = position is not None and position <= 0.2
    value = "—" if answer.value is None else inert(str(answer.value))
    if answer.value is not None and answer.is_scaled:
        value = f"{answer.numeric:g} / {answer.scale_max:g}"
    return AnswerLine(question=inert(answer.question), value=value, is_low=is_low)


def build_card(
    alert: Alert, feedback: Feedback, team: Team, *, source_name: str, now: datetime, audience: str = "team",
    part_of: Sequence[str] = (), children: Sequence[ChildLine] = (),
) -> Card:
    """The card for `alert` as it is now. `audience="team"` (the routed channel) shows contact details.
    `part_of`: the keys of the systemic issues the alert belongs to; `children`: a systemic issue's
    child alerts (its card's body is then the summary sentence, the feedback's comment, and them)."""
    severity = Severity(alert.severity)
    contact = tuple(inert(c) for c in (feedback.customer_email, feedback.customer_phone) if c)
    sla_text, overdue = sla_line(alert, now=now)
    state = card_state(alert)
    buttons, menu = card_buttons(alert, state, can_email=masked(feedback.customer_email) is not None)
    systemic = alert.kind == SYSTEMIC_KIND
    title = systemic_title(len(children)) if systemic else card_title(feedback)
    key = alert.key or "HA-?"
    text = inert(state_text(alert, state, now=now))
    comment = inert(feedback.comment) if feedback.comment else None
    about = _cut(comment or title, 200) if systemic else title
    return Card(
        alert_key=key,
        severity=severity,
        status=AlertStatus(alert.status),
        title=title,
        audience=audience,
        customer_name=inert(feedback.customer_name) if feedback.customer_name else None,
        contact=contact if audience == "team" else (),
        nps=feedback.nps,
        answers=tuple(_answer_line(a) for a in feedback.answers),
        comment=None if systemic else comment,
        reasons=tuple(inert(reason) for reason in alert.reasons),
        facts=card_facts(alert, feedback, team, source_name, audience),
        sla_text=sla_text,
        sla_overdue=overdue,
        owner_name=alert.owner_name,
        escalation_level=alert.escalation_level,
        resolution=resolution_text(alert),
        buttons=buttons,
        menu=menu,
        fallback_text=f"{STATE_EMOJI[state]} {key} · {text} · {severity.value} hot alert: {about}",
        version=alert.version,
        state=state,
        state_text=text,
        owner_id=alert.owner_id,
        owner_platform=alert.owner_platform,
        received_at=feedback.received_at,
        served_by=served_by(feedback),
        part_of=tuple(part_of),
        systemic_summary=comment if systemic else None,
        children=tuple(children) if systemic else (),
    )


def low_answers(card: Card) -> tuple[AnswerLine, ...]:
    """The answers the card face shows: the low ones (the rest are behind Details)."""
    return tuple(answer for answer in card.answers if answer.is_low)


def detail_answers(card: Card) -> tuple[AnswerLine, ...]:
    """Every answer, for the Details view."""
    return card.answers


def comment_start(comment: str | None, limit: int = COMMENT_START_MAX) -> str | None:
    """The first ~`limit` characters of a comment on one line, cut at a word, "…" when cut."""
    if not comment or not comment.strip():
        return None
    text = " ".join(comment.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit - 1].rstrip() + "…"


def shown_comment(card: Card) -> tuple[str, int]:
    """The part of the comment the card shows, and how many characters are left out."""
    comment = card.comment or ""
    shown = comment[: max(card.comment_max, 0)]
    return shown, len(comment) - len(shown)


def shown_answers(card: Card) -> tuple[tuple[AnswerLine, ...], int]:
    """The answers the card shows (long values cut), and how many answers are left out."""
    kept = card.answers[: max(card.answers_max, 0)]
    shown = tuple(
        replace(a, question=_cut(a.question, ANSWER_VALUE_MAX), value=_cut(a.value, ANSWER_VALUE_MAX))
        for a in kept
    )
    return shown, len(card.answers) - len(kept)


def shown_children(card: Card) -> tuple[tuple[ChildLine, ...], int]:
    """The children the card face lists, and how many more there are."""
    shown = card.children[: max(card.children_max, 0)]
    return shown, len(card.children) - len(shown)


def listed_children(card: Card) -> tuple[tuple[ChildLine, ...], int]:
    """The children Details lists, and how many more there are (the dashboard lists every one)."""
    listed = card.children[: max(card.children_listed_max, 0)]
    return listed, len(card.children) - len(listed)


def card_is_cut(card: Card) -> bool:
    """True when the card leaves part of the customer's response out (it then goes to the thread)."""
    shown, hidden = shown_answers(card)
    return shown_comment(card)[1] > 0 or hidden > 0 or shown != card.answers[: len(shown)]


def cut_note(hidden_chars: int) -> str:
    return f"…(cut — {hidden_chars:,} more characters; the full response is in this card's thread)"


def answers_note(hidden: int) -> str:
    return f"… {hidden} more answer{'s' if hidden != 1 else ''} in this card's thread"


def largest_fitting(top: int, fits: Callable[[int], bool]) -> int:
    """The largest n in [0, top] with `fits(n)`, taking `fits(0)` for granted (binary search: renderers
    use it to find how much of a text fits a limit; a longer prefix renders longer)."""
    if fits(top):
        return top
    low, high = 0, top
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def fit_children(card: Card, fits: Callable[[Card], bool]) -> Card:
    """A systemic issue's card with as long children lists as `fits` allows: Details lists fewer first
    (down to what the face lists), then the face does; what is left out is counted on the card."""
    shown = min(card.children_max, len(card.children))
    listed = shown + largest_fitting(
        max(min(card.children_listed_max, len(card.children)) - shown, 0),
        lambda n: fits(replace(card, children_listed_max=shown + n)),
    )
    if fits(replace(card, children_listed_max=listed)):
        return replace(card, children_listed_max=listed)
    shown = largest_fitting(shown, lambda n: fits(replace(card, children_max=n, children_listed_max=n)))
    return replace(card, children_max=shown, children_listed_max=shown)


def card_at_level(card: Card, level: int) -> Card:
    """The card at a rendering level: 0 full; 1 compact (short comment, five answers, fewer facts);
    2 minimal (key, severity, customer name, status and the buttons; a systemic issue's summary, its
    children only counted). A systemic issue's children list shrinks with them. Each level is smaller than the
    one before, so a card a platform refused for its size is sent again smaller, never given up."""
    if level <= 0:
        return card
    if level == 1:
        compact = replace(
            card,
            comment_max=min(card.comment_max, 500),
            answers_max=min(card.answers_max, 5),
            facts=card.facts[:4],
            reasons=card.reasons[:3],
            children_max=min(card.children_max, CHILDREN_COMPACT_MAX),
            children_listed_max=min(card.children_listed_max, CHILDREN_LISTED_COMPACT_MAX),
        )
        before = (card.facts, card.reasons, shown_children(card), listed_children(card))
        after = (compact.facts, compact.reasons, shown_children(compact), listed_children(compact))
        if card_is_cut(compact) or after != before:
            return compact
        # nothing to make compact: the next try must still be smaller
    summary = _cut(card.systemic_summary, 300) if card.systemic_summary else None
    return replace(
        card, comment_max=0, answers_max=0, facts=(), reasons=(), contact=(), sla_text=None, resolution=None,
        systemic_summary=summary, children_max=0, children_listed_max=0,
    )


def digest_at_level(digest: DigestCard, level: int) -> DigestCard:
    """A digest at a rendering level: every alert stays listed (each needs its Claim button); level 1
    shortens the summaries, level 2 drops them, the comments' starts, the links and the figures."""
    if level <= 0:
        return digest
    if level == 1:
        items = tuple(replace(item, summary=_cut(item.summary, 80)) for item in digest.items)
        return replace(digest, items=items)
    items = tuple(replace(item, summary="", link=None, comment_start=None) for item in digest.items)
    return replace(digest, items=items, figures=())


def reply_at_level(text: str, level: int) -> str:
    """A thread line at a rendering level (level 1: 2,000 characters, level 2: 300)."""
    if level <= 0:
        return text
    return _cut(text, 2000 if level == 1 else 300)


def _pieces(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` characters, cut at a line break or a space when there is one."""
    out: list[str] = []
    while len(text) > size:
        cut = max(text.rfind("\n", 0, size), text.rfind(" ", 0, size))
        cut = cut if cut > size // 2 else size
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*out, text] if text else out


def full_response_pieces(card: Card, size: int = PIECE_MAX) -> list[str]:
    """The customer's whole response (every answer, the whole comment) as thread lines, for a card that
    had to leave part of it out."""
    lines = [f"{a.question}: {a.value}" for a in card.answers]
    text = "\n".join(lines)
    if card.comment:
        text += ("\n\n" if text else "") + "Comment:\n" + card.comment
    pieces = _pieces(text, size)
    count = len(pieces)
    return [f"Full response for {card.alert_key} ({n}/{count}):\n{p}" for n, p in enumerate(pieces, 1)]
