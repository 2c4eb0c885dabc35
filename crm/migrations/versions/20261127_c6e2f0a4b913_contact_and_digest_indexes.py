"""Indexes on the foreign keys to contacts and to digest messages.

Deleting a contact (undoing an import, merging two records) or an outbox message made PostgreSQL scan plans,
cultivation tasks or reminders for the rows pointing at it (``ON DELETE SET NULL``): seconds per thousand
contacts at a province's size.

Revision ID: c6e2f0a4b913
Revises: b0a2d5e1c7f3
Create Date: 2026-11-27 10:55:00
"""

from alembic import op

revision = "c6e2f0a4b913"
down_revision = "b0a2d5e1c7f3"
branch_labels = None
depends_on = None

INDEXES = (
    ("plans", "contact_id"),
    ("cultivation_tasks", "owner_contact_id"),
    ("reminders", "digest_message_id"),
)


def upgrade():
    for table, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade():
    for table, column in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
