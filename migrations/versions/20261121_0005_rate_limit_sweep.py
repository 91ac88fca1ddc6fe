"""index rate-limit buckets by window start, so expired ones are swept cheaply

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rate_limit_bucket") as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limit_bucket_window_start"), ["window_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_limit_bucket") as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_bucket_window_start"))
