"""enterprise_import_rows: one row per spreadsheet row of an import

The preview pages an import's rows by row number, which nothing kept unique: two checks of one file stored
concurrently (the mapping form sent twice, on PostgreSQL) could each find no rows to replace and leave every row
twice, shown on two pages or on none. A unique index on (import_id, row_number) now refuses the second, and serves
the pages of all labels (the label index serves those of one). Rows stored twice before it are removed, keeping
the later copy.

Revision ID: fadb681e50db
Revises: c6e2f0a4b913
Create Date: 2026-11-27 18:30:00
"""

from alembic import op

revision = "fadb681e50db"
down_revision = "c6e2f0a4b913"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        """
        DELETE FROM enterprise_import_rows WHERE id IN (
            SELECT id FROM (
                SELECT id, ROW_NUMBER() OVER (PARTITION BY import_id, row_number ORDER BY id DESC) AS copy_number
                FROM enterprise_import_rows
            ) AS numbered
            WHERE copy_number > 1
        )
        """
    )
    with op.batch_alter_table("enterprise_import_rows", schema=None) as batch_op:
        batch_op.create_index(
            "uq_enterprise_import_rows_import_id_row_number", ["import_id", "row_number"], unique=True
        )


def downgrade():
    with op.batch_alter_table("enterprise_import_rows", schema=None) as batch_op:
        batch_op.drop_index("uq_enterprise_import_rows_import_id_row_number")
