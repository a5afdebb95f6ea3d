"""audit log and webhooks

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('time', sa.Float(), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('principal', sa.String(length=160), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('details', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_audit_events_time'), 'audit_events', ['time'])
    op.create_index(op.f('ix_audit_events_principal'), 'audit_events', ['principal'])
    op.create_table(
        'webhooks',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('events', sa.Text(), nullable=False),
        sa.Column('repositories', sa.String(length=255), nullable=False),
        sa.Column('headers', sa.Text(), nullable=False),
        sa.Column('secret', sa.Text(), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_webhooks')),
    )
    op.create_table(
        'webhook_queue',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('webhook', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('repository', sa.String(length=255), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_queue')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_webhook_queue_webhook'), 'webhook_queue', ['webhook'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('webhook', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('repository', sa.String(length=255), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('time', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_webhook_deliveries_webhook'), 'webhook_deliveries', ['webhook'])


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_queue')
    op.drop_table('webhooks')
    op.drop_table('audit_events')
