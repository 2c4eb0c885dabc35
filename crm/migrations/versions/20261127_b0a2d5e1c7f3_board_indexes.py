"""board: the stage indexes end in (stage_entered_at, id)

Each column of the board is an ORDER BY stage_entered_at, id LIMIT 11 of one stage within the viewer's scope.
With (area_id, stage, stage_entered_at, id), (office_id, stage, stage_entered_at, id) and (stage,
stage_entered_at, id) each is a short index range read, where the former (area_id, stage), (office_id, stage)
and (stage, stage_entered_at) made PostgreSQL filter hundreds to thousands of rows per column (or walk the
whole (stage_entered_at, id) index). The new indexes replace the old ones, whose queries they still serve
(the stage counts of a scope read the first two alone).

Revision ID: b0a2d5e1c7f3
Revises: f3b7d2a91c05
Create Date: 2026-11-27 10:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b0a2d5e1c7f3'
down_revision = 'f3b7d2a91c05'
branch_labels = None
depends_on = None

#: (old name, old columns, new name, new columns)
CHANGES = (
    (
        'ix_enterprises_area_id_stage',
        ['area_id', 'stage'],
        'ix_enterprises_area_id_stage_stage_entered_at_id',
        ['area_id', 'stage', 'stage_entered_at', 'id'],
    ),
    (
        'ix_enterprises_office_id_stage',
        ['office_id', 'stage'],
        'ix_enterprises_office_id_stage_stage_entered_at_id',
        ['office_id', 'stage', 'stage_entered_at', 'id'],
    ),
    (
        'ix_enterprises_stage_stage_entered_at',
        ['stage', 'stage_entered_at'],
        'ix_enterprises_stage_stage_entered_at_id',
        ['stage', 'stage_entered_at', 'id'],
    ),
)


def upgrade():
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        for old_name, _old_columns, new_name, new_columns in CHANGES:
            batch_op.drop_index(old_name)
            batch_op.create_index(new_name, new_columns, unique=False)


def downgrade():
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        for old_name, old_columns, new_name, _new_columns in CHANGES:
            batch_op.drop_index(new_name)
            batch_op.create_index(old_name, old_columns, unique=False)
