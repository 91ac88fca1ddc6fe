"""plan stages: a plan's state, the criterion and stage movement of each adaptation, and
structured progression criteria in the catalogue

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", _json(), nullable=True))
    with op.batch_alter_table("plan_adaptation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("criterion", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True))
        batch_op.add_column(sa.Column("from_stage", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column("to_stage", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column("details", _json(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("progression", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_criteria", _json(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("regress_criteria", _json(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.add_column(sa.Column("regress_criteria", _json(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.drop_column("regress_criteria")
    with op.batch_alter_table("progression", schema=None) as batch_op:
        batch_op.drop_column("regress_criteria")
        batch_op.drop_column("progress_criteria")
    with op.batch_alter_table("plan_adaptation", schema=None) as batch_op:
        batch_op.drop_column("details")
        batch_op.drop_column("to_stage")
        batch_op.drop_column("from_stage")
        batch_op.drop_column("criterion")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_column("state")
