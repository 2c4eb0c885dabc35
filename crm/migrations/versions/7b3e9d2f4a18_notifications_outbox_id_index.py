"""An index on notifications.outbox_id, for the nightly housekeeping that deletes old outbox messages.

Deleting an outbox message sets ``outbox_id`` to NULL on its notification (``ON DELETE SET NULL``); without an
index PostgreSQL looks for that notification by reading the whole notifications table, once per message.

Revision ID: 7b3e9d2f4a18
Revises: cb751a47aa41
Create Date: 2026-11-27 21:50:00
"""

from alembic import op

revision = "7b3e9d2f4a18"
down_revision = "cb751a47aa41"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_outbox_id", ["outbox_id"], unique=False)


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_outbox_id")
