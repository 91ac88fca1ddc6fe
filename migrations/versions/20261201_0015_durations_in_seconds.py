"""durations in seconds: workouts store seconds (backfilled from whole minutes), runs' column renamed

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duration_seconds", sa.Integer(), nullable=True))
    op.execute("UPDATE workout SET duration_seconds = duration_minutes * 60")
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.alter_column("duration_seconds", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("duration_minutes")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.alter_column("duration_s", new_column_name="duration_seconds", existing_type=sa.Integer())


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.alter_column("duration_seconds", new_column_name="duration_s", existing_type=sa.Integer())
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duration_minutes", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE workout SET duration_minutes ="
        " CASE WHEN duration_seconds < 30 THEN 1 ELSE (duration_seconds + 30) / 60 END"
    )
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.alter_column("duration_minutes", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("duration_seconds")
