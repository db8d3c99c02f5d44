"""E-mail in the worker: the `email.send` outbox handler and the acknowledgement sweep (a periodic job).

An e-mail row is sent like a card: leased, tried, and on failure retried or failed by the delivery
worker. The handler adds what SMTP needs: a check that the message should still go (unsubscribed since?
contacted since?), the Message-ID derived from the row (every attempt sends the same one), and its own
backoff, longer than a chat call's: a mail server that answers 4xx (greylisting, a full mailbox) is asked
again after HOTLOOP_MAIL_RETRY_SECONDS, doubling up to an hour, until the worker's attempts run out; then
the row is failed and reported to admins like any other. 5xx fails it at once; a 5xx refusing the
recipient also puts the address on the suppression list (a hard bounce).
"""

from __future__ import annotations

import random
from email.utils import parseaddr
from functools import partial

import structlog

from bot.context import Context
from bot.domain import utcnow
from bot.mail.ack import sweep_acks
from bot.mail.followup import sweep_follow_ups
from bot.mail.kit import MailKit
from bot.mail.message import EMAIL_KIND, Mail, message_id, mime
from bot.mail.port import Mailer, MailError
from bot.mail.sending import record_bounce, record_sent, record_skipped, skip_reason
from jobs.delivery_ops import Job, JobHandler, Verdict
from jobs.schedule import PeriodicJob

log = structlog.get_logger("hotloop.mail")

MAX_RETRY_SECONDS = 3600.0


def retry_delay(attempts: int, base: float) -> float:
    """base, 2·base, 4·base… at most an hour, ±20 % so many rows' retries do not align."""
    doubled = base * float(2 ** max(0, min(attempts - 1, 16)))
    return min(MAX_RETRY_SECONDS, doubled) * random.uniform(0.8, 1.2)


class MailSender:
    """The delivery worker's handler for `email.send` rows."""

    def __init__(self, ctx: Context, mailer: Mailer | None, kit: MailKit) -> None:
        self.ctx = ctx
        self.mailer = mailer
        self.kit = kit

    async def __call__(self, job: Job) -> Verdict:
        if self.mailer is None:
            return Verdict("failed", "no SMTP server is configured (HOTLOOP_SMTP_URL)")
        try:
            mail = Mail.from_payload(job.payload)
        except (KeyError, TypeError):
            return Verdict("failed", "the e-mail row cannot be read")
        reason = await skip_reason(self.ctx.sessions, mail=mail, alert_id=job.alert_id)
        if reason is not None:
            await record_skipped(self.ctx.sessions, row_id=job.id, alert_id=job.alert_id, reason=reason,
                                 now=utcnow())
            return Verdict("done", f"not sent: {reason}")
        return await self._send(self.mailer, job, mail)

    async def _send(self, mailer: Mailer, job: Job, mail: Mail) -> Verdict:
        key = self.kit.message_key
        mid = message_id(row_id=job.id, created_at=job.created_at, sender=mail.sender, key=key)
        try:
            await mailer.send(mime(mail, message_id=mid, now=utcnow()), sender=parseaddr(mail.sender)[1],
                              recipient=mail.to)
        except MailError as error:
            return await self._refused(job, mail, error)
        await record_sent(self.ctx.sessions, row_id=job.id, alert_id=job.alert_id, mail=mail, message_id=mid,
                          now=utcnow())
        self.ctx.signal.notify()  # the thread line it wrote
        log.info("mail.sent", purpose=mail.purpose, alert_id=job.alert_id, attempts=job.attempts)
        return Verdict("done")

    async def _refused(self, job: Job, mail: Mail, error: MailError) -> Verdict:
        log.warning("mail.not_sent", purpose=mail.purpose, alert_id=job.alert_id, attempts=job.attempts,
                    permanent=error.permanent, reason=error.reason)
        if not error.permanent:
            delay = retry_delay(job.attempts, self.ctx.settings.mail_retry_seconds)
            return Verdict("retry", error.reason, retry_after=delay)
        if error.recipient_refused:
            await record_bounce(self.ctx.sessions, address=mail.to, now=utcnow())
        return Verdict("failed", error.reason)


def mail_handlers(ctx: Context, mailer: Mailer | None) -> dict[str, JobHandler]:
    """Outbox kinds this module handles, for `DeliveryWorker(handlers=…)`."""
    return {EMAIL_KIND: MailSender(ctx, mailer, MailKit.from_settings(ctx.settings))}


async def run_ack_sweep(ctx: Context, kit: MailKit) -> int:
    result = await sweep_acks(ctx.sessions, kit, now=utcnow())
    if result.queued:
        ctx.signal.notify()
    if result.queued or result.skipped:
        log.info("mail.acks", queued=result.queued, skipped=result.skipped, not_wanted=result.not_wanted)
    return result.queued


async def run_follow_up_sweep(ctx: Context, kit: MailKit) -> int:
    result = await sweep_follow_ups(ctx.sessions, kit, now=utcnow())
    if result.queued:
        ctx.signal.notify()
    if result.queued or result.skipped:
        log.info("mail.follow_ups", queued=result.queued, skipped=result.skipped,
                 not_wanted=result.not_wanted)
    return result.queued


def mail_jobs(ctx: Context) -> list[PeriodicJob]:
    """The acknowledgement and follow-up sweeps, when e-mail is configured (HOTLOOP_SMTP_URL)."""
    if not ctx.settings.mail_enabled:
        return []
    kit = MailKit.from_settings(ctx.settings)
    every = float(ctx.settings.mail_sweep_seconds)
    return [PeriodicJob("mail-ack", every, partial(run_ack_sweep, ctx, kit), first_run_after=1.0),
            PeriodicJob("mail-follow-up", every, partial(run_follow_up_sweep, ctx, kit), first_run_after=1.5)]
