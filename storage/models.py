"""SQLModel tables (see DESIGN.md "Concepts"). Times are UTC-aware; JSON is JSONB on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import JSONType, UTCDateTime, utcnow


def _time(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _now_column() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSONType(), nullable=False))


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    slack_channel: str | None = Field(default=None, max_length=64)
    teams_channel: str | None = Field(default=None, max_length=255, description="Teams conversation id")
    managers_slack_channel: str | None = Field(default=None, max_length=64)
    managers_teams_channel: str | None = Field(default=None, max_length=255)
    managers: list[str] = _json(list)  # user ids (Slack or Entra object ids) allowed to act as managers
    timezone: str = Field(default="UTC", max_length=64)
    business_hours: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType(), nullable=True))
    # e-mail to customers (sender, reply_to, ack policy, ack_delay, language): bot.config.document.TeamMailDoc
    mail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType(), nullable=True))
    # systemic-spike detection for this team (window, min_count, sensitivity, enabled): None = the defaults
    systemic: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType(), nullable=True))
    is_default: bool = False
    created_at: datetime = _now_column()


class Route(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    priority: int = Field(default=100, index=True)
    match: dict[str, Any] = _json(dict)
    team_id: int = Field(foreign_key="team.id", index=True)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _now_column()


class Rule(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    priority: int = Field(default=100)
    condition: dict[str, Any] = _json(dict)
    severity: str | None = Field(default=None, max_length=16, description="None = no alert")
    enabled: bool = True
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _now_column()


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
    created_at: datetime = _now_column()


class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    kind: str = Field(max_length=32)
    secret_encrypted: str = Field(max_length=2000)
    mapping: dict[str, Any] = _json(dict)
    api_url: str | None = Field(default=None, max_length=500)
    api_token_encrypted: str | None = Field(default=None, max_length=4000)
    created_at: datetime = _now_column()


class Feedback(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_feedback_source_external"),
        Index("ix_feedback_received", "received_at"),  # responses received by week (the figures)
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    external_id: str = Field(max_length=255)
    received_at: datetime = _now_column()
    submitted_at: datetime | None = _time()
    customer_id: str | None = Field(default=None, max_length=255)
    customer_name: str | None = Field(default=None, max_length=255)
    customer_email: str | None = Field(default=None, max_length=320)
    customer_phone: str | None = Field(default=None, max_length=64)
    nps: int | None = None
    contact_requested: bool = False
    comment: str | None = None
    answers: list[dict[str, Any]] = _json(list)
    attributes: dict[str, str] = _json(dict)
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
    reasons: list[str] = _json(list)
    owner_id: str | None = Field(default=None, max_length=255)
    owner_name: str | None = Field(default=None, max_length=255)
    owner_platform: str | None = Field(default=None, max_length=16)
    escalation_level: int = 0
    created_at: datetime = _now_column()
    updated_at: datetime = _now_column()
    claimed_at: datetime | None = _time()
    resolved_at: datetime | None = _time()
    claim_due_at: datetime | None = _time()
    resolve_due_at: datetime | None = _time()
    next_nag_at: datetime | None = _time()
    # the earliest of the three above while active; the SLA sweep reads only this indexed column
    next_due_at: datetime | None = _time()
    nag_count: int = 0
    snoozed_until: datetime | None = _time()
    snooze_reason: str | None = Field(default=None, max_length=255)
    snoozed_at: datetime | None = _time()  # when the current snooze began (paused time is credited)
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
    ack_due_at: datetime | None = _time()
    acknowledged_at: datetime | None = _time()  # the acknowledgement e-mail was accepted by the SMTP server
    first_contact_at: datetime | None = _time()  # someone first reached the customer (reply, call)
    # "did we fix it?" (bot/mail/followup.py): asked / unasked when resolved, then waiting (due at
    # follow_up_due_at) → queued, or none / skipped; confirmed or reopened once the customer answered
    follow_up_status: str | None = Field(default=None, max_length=16)
    follow_up_due_at: datetime | None = _time()
    # "response" (one customer's answer) or "systemic" (the parent of a spike, bot/systemic): a systemic
    # alert's feedback row is hotloop's own summary, from the built-in source "hotloop-systemic"
    kind: str = Field(default="response", sa_column=Column(String(16), nullable=False,
                                                         server_default="response", default="response"))


class AlertEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    kind: str = Field(max_length=32)
    actor_id: str | None = Field(default=None, max_length=255)
    actor_name: str | None = Field(default=None, max_length=255)
    platform: str | None = Field(default=None, max_length=16)
    at: datetime = _now_column()
    data: dict[str, Any] = _json(dict)


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
    created_at: datetime = _now_column()
    updated_at: datetime = _now_column()


class Conversation(SQLModel, table=True):
    """A chat place hotloop may post to later (Teams conversation references live here)."""

    __table_args__ = (UniqueConstraint("platform", "conversation_id", name="uq_conversation_place"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    conversation_id: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=255)
    reference: dict[str, Any] = _json(dict)
    updated_at: datetime = _now_column()


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
    payload: dict[str, Any] = _json(dict)
    status: str = Field(default="pending", max_length=16, description="pending | done | failed | coalesced")
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _now_column()
    done_at: datetime | None = _time()


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
    last_at: datetime = _now_column()


class MailSuppression(SQLModel, table=True):
    """Addresses hotloop sends no automatic e-mail to (one-click unsubscribe, hard bounce), kept only as a
    hash of the normalized address (bot/mail/address.py): erasing a customer leaves no address here."""

    __table_args__ = (UniqueConstraint("address_hash", name="uq_mailsuppression_address_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    address_hash: str = Field(max_length=64)
    reason: str = Field(max_length=32, description="unsubscribed | bounced")
    created_at: datetime = _now_column()


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
    created_at: datetime = _now_column()
    expires_at: datetime = _now_column()
    sent_at: datetime | None = _time()  # the SMTP server accepted the e-mail
    answered_at: datetime | None = _time()
    resolved: bool | None = None  # the customer's answer: yes (confirmed) / no (reopened)
    score: int | None = None  # 0–10, optional
    comment: str | None = Field(default=None, max_length=2000)


class SystemicIssue(SQLModel, table=True):
    """A spike: many alerts of one team sharing a dimension value (location=042, topic="delivery late")
    within a sliding window, more than the trailing baseline makes likely. Its case (claim, escalate,
    resolve, cards) is the alert `alert_id` of kind "systemic", key SYS-<number>."""

    __table_args__ = (
        UniqueConstraint("number", name="uq_systemicissue_number"),
        Index("ix_systemicissue_value", "team_id", "dimension", "value", "last_child_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: int  # SYS-<number>
    alert_id: int = Field(foreign_key="alert.id", unique=True)
    team_id: int = Field(foreign_key="team.id")
    # location | region | product | employee | source | topic
    dimension: str = Field(max_length=32)
    value: str = Field(max_length=255)
    window_seconds: int
    baseline_per_window: float = 0.0  # the expected count in one window, from the trailing 28 days
    child_count: int = 0
    first_child_at: datetime = _now_column()
    last_child_at: datetime = _now_column()
    created_at: datetime = _now_column()


class SystemicMember(SQLModel, table=True):
    """A child alert of a systemic issue: at most one parent per alert and dimension."""

    __table_args__ = (UniqueConstraint("alert_id", "dimension", name="uq_systemicmember_alert_dimension"),)

    id: int | None = Field(default=None, primary_key=True)
    systemic_id: int = Field(foreign_key="systemicissue.id", index=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    dimension: str = Field(max_length=32)
    joined_at: datetime = _now_column()


class AlertSignal(SQLModel, table=True):
    """One dimension value of one alert (location=042, topic="delivery late"), at the alert's time: the
    sliding window counts these (the baseline reads SignalDay)."""

    # lookup: the detector's window counts (team, dimension, value, time range); at: the retention's
    # hourly delete. No index on alert_id: alerts are never deleted, and nothing reads signals by alert.
    __table_args__ = (Index("ix_alertsignal_lookup", "team_id", "dimension", "value", "at"),
                      Index("ix_alertsignal_at", "at"))

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id")
    team_id: int = Field(foreign_key="team.id")
    dimension: str = Field(max_length=32)
    value: str = Field(max_length=255)
    at: datetime = _now_column()


class SignalDay(SQLModel, table=True):
    """Alerts per team, dimension value and UTC day: the trailing baseline reads at most 28 rows a value."""

    # counts: the baseline's sums read the index alone (28 adjacent entries a value), not 28 table rows
    __table_args__ = (UniqueConstraint("team_id", "dimension", "value", "day", name="uq_signalday"),
                      Index("ix_signalday_counts", "team_id", "dimension", "value", "day", "count"))

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    dimension: str = Field(max_length=32)
    value: str = Field(max_length=255)
    day: str = Field(max_length=10, description="UTC date, YYYY-MM-DD")
    count: int = 0


class JobCursor(SQLModel, table=True):
    """How far a sequential job has read (the systemic detector: the last alert id it looked at)."""

    name: str = Field(primary_key=True, max_length=64)
    last_id: int = 0
    updated_at: datetime = _now_column()


class WebSignin(SQLModel, table=True):
    """A single-use dashboard sign-in link (/app/login/<token>), given in chat to one chat user."""

    __table_args__ = (UniqueConstraint("nonce", name="uq_websignin_nonce"),)

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=255)
    user_name: str = Field(max_length=255)
    teams: list[int] = _json(list)  # the teams whose channel the link was asked from ("my team")
    created_at: datetime = _now_column()
    expires_at: datetime = _now_column()
    used_at: datetime | None = _time()


class WebSession(SQLModel, table=True):
    """A dashboard session: the cookie carries a random token, only its hash is stored."""

    __table_args__ = (UniqueConstraint("token_hash", name="uq_websession_token_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)
    csrf_token: str = Field(max_length=64)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=255)
    user_name: str = Field(max_length=255)
    teams: list[int] = _json(list)
    created_at: datetime = _now_column()
    expires_at: datetime = _now_column()
    last_seen_at: datetime = _now_column()
    revoked_at: datetime | None = _time()


class FigureDay(SQLModel, table=True):
    """One team's closed-loop figures for one UTC day (bot/web/figures.py), kept so the dashboard reads a
    few rows instead of every alert: recomputed when the day's alerts changed (`fingerprint`: their count
    and the sum of their versions) or when an open clock's deadline passed (`expires_at`)."""

    __table_args__ = (UniqueConstraint("day", "team_id", name="uq_figureday_day_team"),)

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(max_length=10, description="UTC date, YYYY-MM-DD")
    team_id: int  # no foreign key: a deleted team's old days are simply never read
    fingerprint: str = Field(max_length=64)
    expires_at: datetime | None = _time()
    computed_at: datetime = _now_column()
    # plain JSON (text), not JSONB: read whole, several MB a page, and never queried inside
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
