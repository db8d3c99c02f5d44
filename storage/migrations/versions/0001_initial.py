"""initial schema: every table of storage/models.py

Revision ID: 0001
Revises:
Create Date: 2026-11-22 19:49:43.338888
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('admin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('added_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', name='uq_admin_user')
    )
    op.create_table('conversation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('conversation_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('reference', storage.types.JSONType(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'conversation_id', name='uq_conversation_place')
    )
    op.create_table('rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('condition', storage.types.JSONType(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('secret_encrypted', sa.String(length=2000), nullable=False),
    sa.Column('mapping', storage.types.JSONType(), nullable=False),
    sa.Column('api_url', sa.String(length=500), nullable=True),
    sa.Column('api_token_encrypted', sa.String(length=4000), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_source_name'), 'source', ['name'], unique=True)
    op.create_table('team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('slack_channel', sa.String(length=64), nullable=True),
    sa.Column('teams_channel', sa.String(length=255), nullable=True),
    sa.Column('managers_slack_channel', sa.String(length=64), nullable=True),
    sa.Column('managers_teams_channel', sa.String(length=255), nullable=True),
    sa.Column('managers', storage.types.JSONType(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('business_hours', storage.types.JSONType(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_team_name'), 'team', ['name'], unique=True)
    op.create_table('webhookdelivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=False),
    sa.Column('received_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'delivery_id', name='uq_webhookdelivery')
    )
    op.create_table('escalationstep',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('after_seconds', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('destination', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'level', name='uq_escalation_team_level')
    )
    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('received_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('submitted_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('customer_id', sa.String(length=255), nullable=True),
    sa.Column('customer_name', sa.String(length=255), nullable=True),
    sa.Column('customer_email', sa.String(length=320), nullable=True),
    sa.Column('customer_phone', sa.String(length=64), nullable=True),
    sa.Column('nps', sa.Integer(), nullable=True),
    sa.Column('contact_requested', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.String(), nullable=True),
    sa.Column('answers', storage.types.JSONType(), nullable=False),
    sa.Column('attributes', storage.types.JSONType(), nullable=False),
    sa.Column('partial', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id', 'external_id', name='uq_feedback_source_external')
    )
    op.create_index(op.f('ix_feedback_source_id'), 'feedback', ['source_id'], unique=False)
    op.create_table('route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('match', storage.types.JSONType(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_route_priority'), 'route', ['priority'], unique=False)
    op.create_index(op.f('ix_route_team_id'), 'route', ['team_id'], unique=False)
    op.create_table('slapolicy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('claim_seconds', sa.Integer(), nullable=False),
    sa.Column('resolve_seconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'severity', name='uq_slapolicy_team_severity')
    )
    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=True),
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('routed_by_default', sa.Boolean(), nullable=False),
    sa.Column('reasons', storage.types.JSONType(), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('owner_name', sa.String(length=255), nullable=True),
    sa.Column('owner_platform', sa.String(length=16), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('claimed_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('resolved_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('claim_due_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('resolve_due_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('next_nag_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('next_due_at', storage.types.UTCDateTime(), nullable=True),
    sa.Column('nag_count', sa.Integer(), nullable=False),
    sa.Column('snoozed_until', storage.types.UTCDateTime(), nullable=True),
    sa.Column('snooze_reason', sa.String(length=255), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('root_cause', sa.String(length=64), nullable=True),
    sa.Column('resolution_note', sa.String(length=3000), nullable=True),
    sa.Column('resolved_by', sa.String(length=255), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('feedback_id')
    )
    op.create_index('ix_alert_active_due', 'alert', ['status', 'next_due_at'], unique=False)
    op.create_index(op.f('ix_alert_key'), 'alert', ['key'], unique=True)
    op.create_index('ix_alert_team_status', 'alert', ['team_id', 'status'], unique=False)
    op.create_table('alertevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.String(length=255), nullable=True),
    sa.Column('actor_name', sa.String(length=255), nullable=True),
    sa.Column('platform', sa.String(length=16), nullable=True),
    sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('data', storage.types.JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_alertevent_alert_id'), 'alertevent', ['alert_id'], unique=False)
    op.create_table('cardref',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=255), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('thread_id', sa.String(length=255), nullable=True),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('conversation_ref', storage.types.JSONType(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'platform', 'channel', name='uq_cardref_alert_place')
    )
    op.create_index(op.f('ix_cardref_alert_id'), 'cardref', ['alert_id'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('destination', sa.String(length=255), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('payload', storage.types.JSONType(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('last_error', sa.String(length=2000), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.Column('done_at', storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_outbox_due', 'outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_outbox_pending_update', 'outbox', ['alert_id', 'kind'], unique=False, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index('ix_outbox_pending_update', table_name='outbox', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_outbox_due', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index(op.f('ix_cardref_alert_id'), table_name='cardref')
    op.drop_table('cardref')
    op.drop_index(op.f('ix_alertevent_alert_id'), table_name='alertevent')
    op.drop_table('alertevent')
    op.drop_index('ix_alert_team_status', table_name='alert')
    op.drop_index(op.f('ix_alert_key'), table_name='alert')
    op.drop_index('ix_alert_active_due', table_name='alert')
    op.drop_table('alert')
    op.drop_table('slapolicy')
    op.drop_index(op.f('ix_route_team_id'), table_name='route')
    op.drop_index(op.f('ix_route_priority'), table_name='route')
    op.drop_table('route')
    op.drop_index(op.f('ix_feedback_source_id'), table_name='feedback')
    op.drop_table('feedback')
    op.drop_table('escalationstep')
    op.drop_table('webhookdelivery')
    op.drop_index(op.f('ix_team_name'), table_name='team')
    op.drop_table('team')
    op.drop_index(op.f('ix_source_name'), table_name='source')
    op.drop_table('source')
    op.drop_table('rule')
    op.drop_table('conversation')
    op.drop_table('admin')
