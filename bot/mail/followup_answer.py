"""The customer's side of 'did we fix it?': reading a follow-up link, checking the form, recording the one
answer it takes.

A link is good when its token has the shape of one (bot/mail/links.py), names a `followup` row, carries
that row's alert id in its signature, has not expired and was not answered. Anything else is one of three
verdicts that say nothing about any alert: `invalid` (never ours, forged, altered — 404), `used` or
`expired` (410).

The answer and what it does to the alert are one transaction: the row's `answered_at` is set by
compare-and-set (a second submit, even a simultaneous one, changes nothing) and the alert is written
through the one writer with the customer as its author (bot/alerts/lifecycle.py `plan_customer_answer`):
"no" or a score ≤ 6 reopens it, mentions the owner in the thread, DMs them and updates every card.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.alerts.lifecycle import Actor, plan_customer_answer
from bot.alerts.writer import AlertWrite, write_changes
from bot.config.snapshot import ConfigSnapshot
from bot.mail.kit import MailKit
from bot.mail.language import DEFAULT
from storage import queries
from storage.db import SessionFactory, transaction
from storage.queries import followup as followup_queries

CUSTOMER = Actor(id="customer", name="the customer", platform="hotloop")
COMMENT_MAX = 2000
WRITE_ATTEMPTS = 5
# control characters but line breaks, and the invisible ones that reorder or hide text
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
                      "\u200b-\u200d\u2060\ufeff]")


class LinkState(StrEnum):
    OPEN = "open"
    INVALID = "invalid"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class OpenedLink:
    state: LinkState
    language: str
    follow_up_id: int | None = None
    alert_id: int | None = None

    @property
    def status_code(self) -> int:
        return {LinkState.OPEN: 200, LinkState.INVALID: 404}.get(self.state, 410)


@dataclass(frozen=True)
class Answer:
    resolved: bool
    score: int | None
    comment: str | None

    @property
    def unhappy(self) -> bool:
        return not self.resolved or (self.score is not None and self.score <= 6)


async def open_link(sessions: SessionFactory, kit: MailKit, *, token: str, now: datetime) -> OpenedLink:
    claim = kit.links.read_follow_up(token)
    if claim is None:
        return OpenedLink(LinkState.INVALID, DEFAULT)
    async with sessions() as session:
        row = await followup_queries.by_nonce(session, nonce=claim.nonce)
    if row is None or row.id is None or not kit.links.signed_for(claim, alert_id=row.alert_id):
        return OpenedLink(LinkState.INVALID, DEFAULT)
    if row.answered_at is not None:
        return OpenedLink(LinkState.USED, row.language)
    if claim.expired(now) or row.expires_at <= now:
        return OpenedLink(LinkState.EXPIRED, row.language)
    return OpenedLink(LinkState.OPEN, row.language, row.id, row.alert_id)


def clean_comment(raw: str) -> str | None:
    """The comment as stored: normalized, no control characters but line breaks, at most COMMENT_MAX."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", raw)).replace("\r\n", "\n").strip()
    return text[:COMMENT_MAX] or None


def read_answer(form: Mapping[str, str]) -> Answer | None:
    """The posted answer; None when `resolved` is not yes/no, or `score` is not empty or 0–10."""
    resolved = form.get("resolved", "")
    score_text = form.get("score", "").strip()
    if resolved not in ("yes", "no"):
        return None
    if score_text and (not score_text.isdigit() or len(score_text) > 2 or int(score_text) > 10):
        return None
    return Answer(resolved=resolved == "yes", score=int(score_text) if score_text else None,
                  comment=clean_comment(form.get("comment", "")))


class _LostRace(Exception):
    """The alert changed between reading and writing it: roll the answer back, read again."""


async def record(sessions: SessionFactory, config: ConfigSnapshot, *, link: OpenedLink, answer: Answer,
                 now: datetime) -> bool:
    """Store the answer and change the alert, in one transaction; False when the link was answered
    already (by another submit)."""
    assert link.follow_up_id is not None and link.alert_id is not None
    for _ in range(WRITE_ATTEMPTS):
        try:
            async with transaction(sessions) as session:
                if not await followup_queries.record_answer(
                    session, follow_up_id=link.follow_up_id, now=now, resolved=answer.resolved,
                    score=answer.score, comment=answer.comment,
                ):
                    return False
                alert = await queries.get_alert_by_id(session, alert_id=link.alert_id)
                if alert is None:
                    return True
                plan = plan_customer_answer(now, config, resolved=answer.resolved,
                                            score=answer.score, comment=answer.comment)
                write = AlertWrite(alert, [plan(alert)], CUSTOMER)
                if not await write_changes(session, writes=[write], now=now):
                    raise _LostRace
                return True
        except _LostRace:
            continue
    raise RuntimeError("the alert kept changing while the customer's answer was recorded")
