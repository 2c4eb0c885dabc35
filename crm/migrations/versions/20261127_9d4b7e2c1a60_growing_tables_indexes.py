"""Indexes for the tables that grow by themselves: the outbox by status, and the few queued jobs that wait or failed.

At 1 million outbox messages the operations pages counted every message per status (80 ms a page) and listed a
status's messages by sorting all of them; the queued jobs (one per message, never deleted) were read whole by
the operations page (three statements of 45 ms) and by ``jobs.dispatch_pending`` every minute (55 ms).

Revision ID: 9d4b7e2c1a60
Revises: fadb681e50db
Create Date: 2026-11-27 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9d4b7e2c1a60"
down_revision = "fadb681e50db"
branch_labels = None
depends_on = None

UNSTARTED = "started_at IS NULL"
FAILED = "failed_at IS NOT NULL"


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_messages_status_id", ["status", "id"], unique=False)
    with op.batch_alter_table("queued_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queued_jobs_unstarted_created_at",
            ["created_at"],
            unique=False,
            sqlite_where=sa.text(UNSTARTED),
            postgresql_where=sa.text(UNSTARTED),
        )
        batch_op.create_index(
            "ix_queued_jobs_failed_at",
            ["failed_at", "id"],
            unique=False,
            sqlite_where=sa.text(FAILED),
            postgresql_where=sa.text(FAILED),
        )


def downgrade():
    with op.batch_alter_table("queued_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_queued_jobs_failed_at")
        batch_op.drop_index("ix_queued_jobs_unstarted_created_at")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_status_id")
