"""stage changes: when the enterprise entered the stage it leaves

The reports' median days in a stage took, for every move out of a stage in the period, the time of the
enterprise's previous move: a window (``lag``) over the whole history, a million rows at the full size, on every
uncached view (4-12 s). Each move now keeps that time in ``from_stage_entered_at`` (the service that records a move
fills it, the demo seeder too, an import's first entry has none); this migration fills it for the history there is
in one UPDATE from the same window. On PostgreSQL the index on ``changed_at`` carries the columns the reports read of
the period's moves, so they come from the index alone.

Revision ID: 5e0d2c7b9a13
Revises: 7c3e5a9d2b14
Create Date: 2026-11-27 21:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = "5e0d2c7b9a13"
down_revision = "7c3e5a9d2b14"
branch_labels = None
depends_on = None

INCLUDED = ["enterprise_id", "from_stage", "to_stage", "from_stage_entered_at"]

BACKFILL = """
UPDATE stage_changes SET from_stage_entered_at = previous.entered_at
FROM (
    SELECT id, lag(changed_at) OVER (PARTITION BY enterprise_id ORDER BY changed_at, id) AS entered_at
    FROM stage_changes
) AS previous
WHERE previous.id = stage_changes.id AND previous.entered_at IS NOT NULL
"""


def upgrade():
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_stage_entered_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_stage_changes_changed_at", table_name="stage_changes")
        op.create_index(
            "ix_stage_changes_changed_at", "stage_changes", ["changed_at"], unique=False, postgresql_include=INCLUDED
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_stage_changes_changed_at", table_name="stage_changes")
        op.create_index("ix_stage_changes_changed_at", "stage_changes", ["changed_at"], unique=False)
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_column("from_stage_entered_at")
