"""SQLModel tables (see DESIGN.md "Concepts"). Times are UTC-aware; JSON is JSONB on PostgreSQL.
The systemic detector's tables live in storage/models_systemic.py, the dashboard's in
storage/models_web.py; both are re-exported here so `storage.models` names every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.columns import json_column, now_column, time_column
from storage.types import JSONType, UTCDateTime, utcnow


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    slack_channel: str | None = Field(default=None, max_length=64)
    teams_channel: str | None = Field(default=None, max_length=255, description="Teams conversation id")
    managers_slack_channel: str | None = Field(default=None, max_length=64)
    managers_teams_channel: str | None = Field(default=None, max_length=255)
    managers: list[str] = json_column(list)  # user ids (Slack or Entra object ids) allowed to act as managers
    timezone: str = Field(default="UTC", max_length=64)
    business_hours: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType(), nullable=True))
    # e-mail to customers (sender, reply_to, ack policy, ack_delay, language): bot.config.document.TeamMailDoc
    mail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType(), nullable=True))
    # systemic-spike detection for this team (window, min_count, sensitivity, enabled): None = the defaults
    systemic: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType(), nullable=True))
    is_default: bool = False
    created_at: datetime = now_column()


class Route(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    priority: int = Field(default=100, index=True)
    match: dict[str, Any] = json_column(dict)
    team_id: int = Field(foreign_key="team.id", index=True)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = now_column()


class Rule(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    priority: int = Field(default=100)
    condition: dict[str, Any] = json_column(dict)
    severity: str | None = Field(default=None, max_length=16, description="None = no alert")
    enabled: bool = True
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = now_column()


class SlaPolicy(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "severity", name="uq_slapolicy_team_severity"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", description="None = global default")
    severity: str = Field(max_length=16)
    claim_seconds: int
    resolve_seconds: int


class EscalationStep(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "level", name="uq_escalation_team_level"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", description="None = every team")
    level: int = Field(ge=1)
    after_seconds: int = Field(default=0, ge=0, description="delay after breach before this step fires")
    platform: str = Field(max_length=16)
    destination: str = Field(max_length=255, description="channel, user or conversation id")
    description: str | None = Field(default=None, max_length=255)


class Admin(SQLModel, table=True):
    # an identity is a (platform, id) pair: a Teams user whose id equals a Slack admin's is not an admin
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_admin_platform_user"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=255)
    platform: str = Field(default="slack", max_length=16)
    added_by: str | None = Field(default=None, max_length=255)
    created_at: datetime = now_column()


class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    kind: str = Field(max_length=32)
    secret_encrypted: str = Field(max_length=2000)
    mapping: dict[str, Any] = json_column(dict)
    api_url: str | None = Field(default=None, max_length=500)
    api_token_encrypted: str | None = Field(default=None, max_length=4000)
    created_at: datetime = now_column()


class Feedback(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_feedback_source_external"),
        Index("ix_feedback_received", "received_at"),  # responses received by week (the figures)
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    external_id: str = Field(max_length=255)
    received_at: datetime = now_column()
    submitted_at: datetime | None = time_column()
    customer_id: str | None = Field(default=None, max_length=255)
    customer_name: str | None = Field(default=None, max_length=255)
    customer_email: str | None = Field(default=None, max_length=320)
    customer_phone: str | None = Field(default=None, max_length=64)
    nps: int | None = None
    contact_requested: bool = False
    comment: str | None = None
    answers: list[dict[str, Any]] = json_column(list)
    attributes: dict[str, str] = json_column(dict)
    partial: bool = False


class Alert(SQLModel, table=True):
    __table_args__ = (
        Index("ix_alert_active_due", "status", "next_due_at"),
        Index("ix_alert_team_status", "team_id", "status"),
        Index("ix_alert_ack_due", "ack_status", "ack_due_at"),
        Index("ix_alert_follow_up_due", "follow_up_status", "follow_up_due_at"),
        # the figures' change check reads (count, sum of versions) by day and team from this index alone
        Index("ix_alert_created_team", "created_at", "team_id", "version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, max_length=32, unique=True, index=True)
    feedback_id: int = Field(foreign_key="feedback.id", unique=True)
    severity: str = Field(max_length=16)
    status: str = Field(default="open", max_length=16)
    team_id: int = Field(foreign_key="team.id")
    routed_by_default: bool = False
    reasons: list[str] = json_column(list)
    owner_id: str | None = Field(default=None, max_length=255)
    owner_name: str | None = Field(default=None, max_length=255)
    owner_platform: str | None = Field(default=None, max_length=16)
    escalation_level: int = 0
    created_at: datetime = now_column()
    updated_at: datetime = now_column()
    claimed_at: datetime | None = time_column()
    resolved_at: datetime | None = time_column()
    claim_due_at: datetime | None = time_column()
    resolve_due_at: datetime | None = time_column()
    next_nag_at: datetime | None = time_column()
    # the earliest of the three above while active; the SLA sweep reads only this indexed column
    next_due_at: datetime | None = time_column()
    nag_count: int = 0
    snoozed_until: datetime | None = time_column()
    snooze_reason: str | None = Field(default=None, max_length=255)
    snoozed_at: datetime | None = time_column()  # when the current snooze began (paused time is credited)
    outcome: str | None = Field(default=None, max_length=32)
    root_cause: str | None = Field(default=None, max_length=64)
    resolution_note: str | None = Field(default=None, max_length=3000)
    resolved_by: str | None = Field(default=None, max_length=255)
    # who resolved it, as an identity (reopen rights compare these, never the display name)
    resolved_by_id: str | None = Field(default=None, max_length=255)
    resolved_by_platform: str | None = Field(default=None, max_length=16)
    version: int = 1
    # the customer's side of the loop (bot/mail/ack.py): None = not looked at yet, then waiting (due at
    # ack_due_at) → queued → sent, or none (not wanted) / skipped (contacted first, unsubscribed)
    ack_status: str | None = Field(default=None, max_length=16)
    ack_due_at: datetime | None = time_column()
    acknowledged_at: datetime | None = time_column()  # the acknowledgement e-mail reached the SMTP server
    first_contact_at: datetime | None = time_column()  # someone first reached the customer (reply, call)
    # "did we fix it?" (bot/mail/followup.py): asked / unasked when resolved, then waiting (due at
    # follow_up_due_at) → queued, or none / skipped; confirmed or reopened once the customer answered
    follow_up_status: str | None = Field(default=None, max_length=16)
    follow_up_due_at: datetime | None = time_column()
    # "response" (one customer's answer) or "systemic" (the parent of a spike, bot/systemic): a systemic
    # alert's feedback row is hotloop's own summary, from the built-in source "hotloop-systemic"
    kind: str = Field(
        default="response",
        sa_column=Column(String(16), nullable=False, server_default="response", default="response"),
    )


class AlertEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    kind: str = Field(max_length=32)
    actor_id: str | None = Field(default=None, max_length=255)
    actor_name: str | None = Field(default=None, max_length=255)
    platform: str | None = Field(default=None, max_length=16)
    at: datetime = now_column()
    data: dict[str, Any] = json_column(dict)


class CardRef(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("alert_id", "platform", "channel", name="uq_cardref_alert_place"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    platform: str = Field(max_length=16)
    channel: str = Field(max_length=255)
    message_id: str = Field(max_length=255, description="Slack ts or Teams activity id")
    thread_id: str | None = Field(default=None, max_length=255)
    audience: str = Field(default="team", max_length=16, description="team | managers | digest")
    conversation_ref: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType(), nullable=True))
    created_at: datetime = now_column()
    updated_at: datetime = now_column()


class Conversation(SQLModel, table=True):
    """A chat place hotloop may post to later (Teams conversation references live here)."""

    __table_args__ = (UniqueConstraint("platform", "conversation_id", name="uq_conversation_place"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    conversation_id: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=255)
    reference: dict[str, Any] = json_column(dict)
    updated_at: datetime = now_column()


class Outbox(SQLModel, table=True):
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index(
            "ix_outbox_pending_update",
            "alert_id",
            "kind",
            unique=False,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(
        max_length=32, description="card.post | card.update | thread.reply | dm | digest.post | email.send"
    )
    platform: str = Field(max_length=16)
    destination: str = Field(default="", max_length=255, description="channel / user / conversation")
    alert_id: int | None = Field(default=None, foreign_key="alert.id")
    payload: dict[str, Any] = json_column(dict)
    status: str = Field(default="pending", max_length=16, description="pending | done | failed | coalesced")
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = now_column()
    done_at: datetime | None = time_column()


class WebhookDelivery(SQLModel, table=True):
    """Deduplication of chat-platform retries (Slack event_id, Teams activity id)."""

    __table_args__ = (UniqueConstraint("platform", "delivery_id", name="uq_webhookdelivery"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    delivery_id: str = Field(max_length=255)
    # indexed: the retention job deletes by age
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )


class IgnoredWebhook(SQLModel, table=True):
    """Webhooks answered 2xx without storing anything (a test ping, an event type hotloop does not
    act on), counted per day, source and reason so `/hotloop status` can show them: a 2xx that stores
    nothing is never silent."""

    __table_args__ = (
        UniqueConstraint("day", "source", "reason", name="uq_ignoredwebhook_day_source_reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(max_length=10, description="UTC date, YYYY-MM-DD")
    source: str = Field(max_length=100)
    reason: str = Field(max_length=255)
    count: int = 0
    last_at: datetime = now_column()


class MailSuppression(SQLModel, table=True):
    """Addresses hotloop sends no automatic e-mail to (one-click unsubscribe, hard bounce), kept only as a
    hash of the normalized address (bot/mail/address.py): erasing a customer leaves no address here."""

    __table_args__ = (UniqueConstraint("address_hash", name="uq_mailsuppression_address_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    address_hash: str = Field(max_length=64)
    reason: str = Field(max_length=32, description="unsubscribed | bounced")
    created_at: datetime = now_column()


class FollowUp(SQLModel, table=True):
    """One "did we fix it?" e-mail and its answer. The link's token names the row by `nonce` and is signed
    with the alert id (bot/mail/links.py); it is answered once (`answered_at`). `address_hash` only: at
    most one follow-up per customer per 30 days, without keeping the address here."""

    __table_args__ = (
        UniqueConstraint("nonce", name="uq_followup_nonce"),
        Index("ix_followup_address_created", "address_hash", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    nonce: str = Field(max_length=32)
    address_hash: str = Field(max_length=64)
    language: str = Field(max_length=8)
    created_at: datetime = now_column()
    expires_at: datetime = now_column()
    sent_at: datetime | None = time_column()  # the SMTP server accepted the e-mail
    answered_at: datetime | None = time_column()
    resolved: bool | None = None  # the customer's answer: yes (confirmed) / no (reopened)
    score: int | None = None  # 0–10, optional
    comment: str | None = Field(default=None, max_length=2000)


# re-exported: importing storage.models registers every table in SQLModel.metadata
from storage.models_systemic import AlertSignal, JobCursor, SignalDay, SystemicIssue, SystemicMember  # noqa: E402
from storage.models_web import FigureDay, WebSession, WebSignin  # noqa: E402

__all__ = [
    "Admin",
    "Alert",
    "AlertEvent",
    "AlertSignal",
    "CardRef",
    "Conversation",
    "EscalationStep",
    "Feedback",
    "FigureDay",
    "FollowUp",
    "IgnoredWebhook",
    "JobCursor",
    "MailSuppression",
    "Outbox",
    "Route",
    "Rule",
    "SignalDay",
    "SlaPolicy",
    "Source",
    "SystemicIssue",
    "SystemicMember",
    "Team",
    "WebSession",
    "WebSignin",
    "WebhookDelivery",
]
