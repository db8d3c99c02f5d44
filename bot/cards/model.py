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

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.cards.states import OUTCOME_LABELS as OUTCOME_LABELS
from bot.cards.states import SNOOZE_CHOICES as SNOOZE_CHOICES
from bot.cards.states import STATE_EMOJI as STATE_EMOJI
from bot.cards.states import CardButton as CardButton
from bot.cards.states import CardState as CardState
from bot.cards.states import card_buttons, card_state, state_text
from bot.domain import AlertStatus, Answer, Outcome, Severity
from storage.models import Alert, Feedback, Team

SEVERITY_EMOJI = {"critical": "🔴", "high": "🟠", "normal": "🟡", "low": "⚪"}
ROOT_CAUSES = ("product", "service", "staff", "delivery", "billing", "wait time", "facilities", "other")

# bidirectional embeddings/overrides/isolates and marks, the Arabic letter mark, zero-width characters
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]")
COMMENT_SHOWN_MAX = 2500  # characters of the comment a card shows; the rest goes to its thread
ANSWERS_SHOWN_MAX = 20
ANSWER_VALUE_MAX = 300
FACT_VALUE_MAX = 200
PIECE_MAX = 2500  # characters per thread reply carrying the full response
MAX_LEVEL = 2  # rendering levels: 0 full, 1 compact, 2 minimal (see `card_at_level`)


def inert(text: str) -> str:
    """Customer text without the invisible characters that can reorder or hide what a reader sees."""
    return _INVISIBLE.sub("", text)


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


@dataclass(frozen=True)
class DigestCard:
    title: str
    items: tuple[DigestItem, ...]
    figures: tuple[tuple[str, str], ...] = ()
    with_claim_buttons: bool = True
    more: int = 0  # items left out to stay within platform limits
    fallback_text: str = ""
    meta: dict[str, str] = field(default_factory=dict)


def humanize_delta(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d"


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


def _title(feedback: Feedback) -> str:
    if feedback.nps is not None:
        group = "Detractor" if feedback.nps <= 6 else "Passive" if feedback.nps <= 8 else "Promoter"
        title = f"{group} · NPS {feedback.nps}"
    else:
        title = "Feedback"
    if feedback.contact_requested:
        title += " · asks to be contacted"
    return title


def _masked(address: str | None) -> str | None:
    """`dana@example.com` → `d•••@example.com`, as bot/mail/address.py `masked` (cards may not import
    bot.mail: it imports the cards); None when it is no address at all."""
    local, _, domain = (address or "").strip().partition("@")
    return f"{local[:1]}•••@{domain}" if local and "." in domain else None


def _contact_facts(alert: Alert, feedback: Feedback, audience: str) -> list[tuple[str, str]]:
    """"Acknowledged: to d•••@example.com · 10:12 UTC" (the masked address for the team only) and
    "First contact: 12 min after arrival", once known."""
    facts: list[tuple[str, str]] = []
    shown = _masked(feedback.customer_email)
    if alert.acknowledged_at is not None:
        to = f"to {shown} · " if shown and audience == "team" else ""
        facts.append(("Acknowledged", f"{to}{alert.acknowledged_at:%H:%M} UTC"))
    if alert.first_contact_at is not None:
        after = (alert.first_contact_at - feedback.received_at).total_seconds()
        facts.append(("First contact", f"{humanize_delta(max(0.0, after))} after arrival"))
    return facts


def _facts(alert: Alert, feedback: Feedback, team: Team, source_name: str,
           audience: str = "team") -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str]] = [("Source", source_name), *_contact_facts(alert, feedback, audience)]
    for name in ("location", "region", "employee", "product", "channel"):
        if value := inert(str(feedback.attributes.get(name) or "")):
            facts.append((name.capitalize(), _cut(value, FACT_VALUE_MAX)))
    facts.append(("Received", f"{feedback.received_at:%Y-%m-%d %H:%M} UTC"))
    team_text = team.name + (" (default route)" if alert.routed_by_default else "")
    facts.append(("Team", team_text))
    if alert.escalation_level:
        facts.append(("Escalation", f"level {alert.escalation_level}"))
    return tuple(facts)


def _resolution(alert: Alert) -> str | None:
    if alert.status != AlertStatus.RESOLVED or alert.outcome is None:
        return None
    label = OUTCOME_LABELS.get(Outcome(alert.outcome), alert.outcome)
    parts = [label]
    if alert.root_cause:
        parts.append(f"root cause: {alert.root_cause}")
    if alert.resolved_by:
        parts.append(f"by {alert.resolved_by}")
    return " · ".join(parts)


def build_card(
    alert: Alert, feedback: Feedback, team: Team, *, source_name: str, now: datetime, audience: str = "team"
) -> Card:
    """The card for `alert` as it is now. `audience="team"` (the routed channel) shows contact details."""
    severity = Severity(alert.severity)
    status = AlertStatus(alert.status)
    contact = (
        tuple(inert(c) for c in (feedback.customer_email, feedback.customer_phone) if c)
        if audience == "team"
        else ()
    )
    sla_text, overdue = sla_line(alert, now=now)
    state = card_state(alert)
    buttons, menu = card_buttons(alert, state, can_email=_masked(feedback.customer_email) is not None)
    title = _title(feedback)
    key = alert.key or "HA-?"
    text = inert(state_text(alert, state, now=now))
    fallback = f"{STATE_EMOJI[state]} {key} · {text} · {severity.value} hot alert: {title}"
    return Card(
        alert_key=key,
        severity=severity,
        status=status,
        title=title,
        audience=audience,
        customer_name=inert(feedback.customer_name) if feedback.customer_name else None,
        contact=contact,
        nps=feedback.nps,
        answers=tuple(_answer_line(a) for a in feedback.answers),
        comment=inert(feedback.comment) if feedback.comment else None,
        reasons=tuple(inert(reason) for reason in alert.reasons),
        facts=_facts(alert, feedback, team, source_name, audience),
        sla_text=sla_text,
        sla_overdue=overdue,
        owner_name=alert.owner_name,
        escalation_level=alert.escalation_level,
        resolution=_resolution(alert),
        buttons=buttons,
        menu=menu,
        fallback_text=fallback,
        version=alert.version,
        state=state,
        state_text=text,
        owner_id=alert.owner_id,
        owner_platform=alert.owner_platform,
        received_at=feedback.received_at,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def card_at_level(card: Card, level: int) -> Card:
    """The card at a rendering level: 0 full; 1 compact (short comment, five answers, fewer facts);
    2 minimal (key, severity, customer name, status and the buttons). Each level is smaller than the
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
        )
        if card_is_cut(compact) or (compact.facts, compact.reasons) != (card.facts, card.reasons):
            return compact
        # nothing to make compact: the next try must still be smaller
    return replace(
        card, comment_max=0, answers_max=0, facts=(), reasons=(), contact=(), sla_text=None, resolution=None
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
