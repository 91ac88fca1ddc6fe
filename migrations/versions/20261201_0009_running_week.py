"""athlete profile: the running week (running days and long-run day) that strength plans go around

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("athlete_profile") as batch_op:
        batch_op.add_column(sa.Column("running_days", JSON, nullable=True))
        batch_op.add_column(sa.Column("long_run_day", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True))
    op.execute("UPDATE athlete_profile SET running_days = '[]'")
    with op.batch_alter_table("athlete_profile") as batch_op:
        batch_op.alter_column("running_days", existing_type=JSON, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("athlete_profile") as batch_op:
        batch_op.drop_column("long_run_day")
        batch_op.drop_column("running_days")
