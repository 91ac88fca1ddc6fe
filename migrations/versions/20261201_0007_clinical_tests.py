"""clinical tests: heel-raise and hop results the return-to-run gates read

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinical_test",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("athlete_id", sa.Uuid(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("test", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("measure", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("left", sa.Float(), nullable=True),
        sa.Column("right", sa.Float(), nullable=True),
        sa.Column("affected_side", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("pain", sa.Integer(), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"], ["user.id"], name=op.f("fk_clinical_test_athlete_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_test")),
    )
    with op.batch_alter_table("clinical_test", schema=None) as batch_op:
        batch_op.create_index("ix_clinical_test_athlete_date", ["athlete_id", "date", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clinical_test", schema=None) as batch_op:
        batch_op.drop_index("ix_clinical_test_athlete_date")

    op.drop_table("clinical_test")
