"""a webhook subscription made with a personal access token ends with the token

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 20:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_webhook_subscription_token_id"), ["token_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_webhook_subscription_token_id_personal_access_token"),
            "personal_access_token",
            ["token_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_webhook_subscription_token_id_personal_access_token"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_webhook_subscription_token_id"))
        batch_op.drop_column("token_id")
