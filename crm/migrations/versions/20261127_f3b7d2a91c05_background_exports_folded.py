"""Large enterprise-list exports are background exports (export_jobs): drop enterprise_exports.

Revision ID: f3b7d2a91c05
Revises: e5a1c0de2f01
Create Date: 2026-11-27 10:00:00

Their files (stored_files with owner_type 'enterprise_export') stay in the file store here; the daily
``exports.purge_expired`` job deletes them (``crm.exports.services.RETIRED_FILE_OWNERS``). They were downloads
kept for their owner, and nothing links to them any more.
"""

import sqlalchemy as sa
from alembic import op

revision = "f3b7d2a91c05"
down_revision = "e5a1c0de2f01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("enterprise_exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprise_exports_user_id"))
        batch_op.drop_index(batch_op.f("ix_enterprise_exports_created_at"))
    op.drop_table("enterprise_exports")


def downgrade():
    op.create_table(
        "enterprise_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=4), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "running", "done", "failed", name="exportstatus", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
            name=op.f("fk_enterprise_exports_file_id_stored_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enterprise_exports_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_exports")),
    )
    with op.batch_alter_table("enterprise_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enterprise_exports_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_enterprise_exports_user_id"), ["user_id"], unique=False)
