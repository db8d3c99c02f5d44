"""What one customer left behind, and the rows the retention redaction works on (bot/privacy.py decides
what to change; these only find and write rows). Callers own the session and the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Alert, AlertEvent, Feedback, FollowUp, MailSuppression, Outbox, Source

EMAIL_KIND = "email.send"  # bot.mail.message.EMAIL_KIND (storage does not import bot)


def _contains(column: Any, needle: str) -> Any:
    """Case-insensitive substring test; `needle` is escaped so % and _ in an address match literally."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


async def responses_mentioning(session: AsyncSession, *, address: str) -> Sequence[Feedback]:
    """Responses whose e-mail is `address` (already lower-cased) or whose comment carries it. The caller
    compares the stored e-mail once more with its own normalization."""
    query = (
        select(Feedback)
        .where(or_(func.lower(func.trim(col(Feedback.customer_email))) == address,
                   _contains(col(Feedback.comment), address)))
        .order_by(col(Feedback.id))
    )
    return (await session.execute(query)).scalars().all()


async def source_names(session: AsyncSession, *, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(col(Source.id), col(Source.name)).where(col(Source.id).in_(ids))
    rows = (await session.execute(query)).all()
    return {source_id: name for source_id, name in rows if source_id is not None}


async def alerts_of(session: AsyncSession, *, feedback_ids: Collection[int]) -> Sequence[Alert]:
    if not feedback_ids:
        return []
    query = select(Alert).where(col(Alert.feedback_id).in_(feedback_ids)).order_by(col(Alert.id))
    return (await session.execute(query)).scalars().all()


async def events_of(session: AsyncSession, *, alert_ids: Collection[int]) -> Sequence[AlertEvent]:
    if not alert_ids:
        return []
    query = select(AlertEvent).where(col(AlertEvent.alert_id).in_(alert_ids)).order_by(col(AlertEvent.id))
    return (await session.execute(query)).scalars().all()


async def messages_for(
    session: AsyncSession, *, alert_ids: Collection[int], lane: str, kinds: Collection[str]
) -> Sequence[Outbox]:
    """Outbox rows that may carry the customer's details: every e-mail to their lane (whatever alert it
    belongs to), and the `kinds` rows (e-mails, thread lines, DMs) of their alerts."""
    conditions = [(col(Outbox.kind) == EMAIL_KIND) & (col(Outbox.destination) == lane)]
    if alert_ids:
        conditions.append(col(Outbox.alert_id).in_(alert_ids) & col(Outbox.kind).in_(kinds))
    query = select(Outbox).where(or_(*conditions)).order_by(col(Outbox.id))
    return (await session.execute(query)).scalars().all()


async def follow_ups_of(session: AsyncSession, *, alert_ids: Collection[int]) -> Sequence[FollowUp]:
    if not alert_ids:
        return []
    query = select(FollowUp).where(col(FollowUp.alert_id).in_(alert_ids)).order_by(col(FollowUp.id))
    return (await session.execute(query)).scalars().all()


async def replace_follow_up_words(session: AsyncSession, *, alert_ids: Collection[int], marker: str) -> None:
    """The customer's words in their follow-up answers become `marker` (yes/no and the score stay)."""
    if alert_ids:
        await session.execute(
            update(FollowUp)
            .where(col(FollowUp.alert_id).in_(alert_ids), col(FollowUp.comment).is_not(None))
            .values(comment=marker)
        )


async def delete_outbox(session: AsyncSession, *, ids: Collection[int]) -> None:
    if ids:
        await session.execute(delete(Outbox).where(col(Outbox.id).in_(ids)))


async def set_outbox_payload(session: AsyncSession, *, row_id: int, payload: dict[str, Any]) -> None:
    await session.execute(update(Outbox).where(col(Outbox.id) == row_id).values(payload=payload))


async def is_suppressed(session: AsyncSession, *, address_hash: str) -> bool:
    query = select(col(MailSuppression.id)).where(col(MailSuppression.address_hash) == address_hash)
    return (await session.execute(query.limit(1))).first() is not None


async def responses_to_redact(
    session: AsyncSession, *, before: datetime, markers: Sequence[str], limit: int
) -> Sequence[Feedback]:
    """Responses received before `before` that are not redacted yet: a redacted response's comment is
    always one of `markers`, so the same rows are never taken twice."""
    comment = col(Feedback.comment)
    query = (
        select(Feedback)
        .where(col(Feedback.received_at) < before, or_(comment.is_(None), comment.not_in(markers)))
        .order_by(col(Feedback.id))
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()
