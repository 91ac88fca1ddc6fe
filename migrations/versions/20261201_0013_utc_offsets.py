"""workouts and runs: the UTC offset their start was sent with, answered back with it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Records stored before were answered in UTC: offset 0 keeps answering them so.
    for table in ("workout", "run"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("utc_offset_minutes", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in ("workout", "run"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("utc_offset_minutes")
