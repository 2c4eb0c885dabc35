"""enterprise list: the (updated_at, id) index also holds the scope and stage columns

Deep pages of the list (offset over the ids in "last changed" order, limited to a scope) then read the index
alone instead of sorting the scope's rows. ``INCLUDE`` is PostgreSQL's; SQLite builds the plain index.

Revision ID: e5a1c0de2f01
Revises: b9075baad03c
Create Date: 2026-11-27 08:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a1c0de2f01'
down_revision = 'b9075baad03c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprises_updated_at_id')
        batch_op.create_index(
            'ix_enterprises_updated_at_id_scope',
            ['updated_at', 'id'],
            unique=False,
            postgresql_include=['area_id', 'office_id', 'stage'],
        )


def downgrade():
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprises_updated_at_id_scope')
        batch_op.create_index('ix_enterprises_updated_at_id', ['updated_at', 'id'], unique=False)
