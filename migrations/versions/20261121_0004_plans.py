"""plans

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 05:46:33.830467
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "plan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("athlete_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("protocol", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column(
            "draft", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "profile", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "options", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("baseline_pain", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["user.id"], name=op.f("fk_plan_athlete_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_athlete_id"), ["athlete_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plan_status"), ["status"], unique=False)

    op.create_table(
        "plan_adaptation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column(
            "reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_adaptation_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_adaptation")),
        sa.UniqueConstraint("plan_id", "week", name=op.f("uq_plan_adaptation_plan_id_week")),
    )
    with op.batch_alter_table("plan_adaptation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_adaptation_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_session_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_session")),
    )
    with op.batch_alter_table("plan_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_session_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workout_planned_session_id"), ["planned_session_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_workout_planned_session_id_plan_session"),
            "plan_session",
            ["planned_session_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:

    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_workout_planned_session_id_plan_session"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_workout_planned_session_id"))

    with op.batch_alter_table("plan_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_session_plan_id"))

    op.drop_table("plan_session")
    with op.batch_alter_table("plan_adaptation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_adaptation_plan_id"))

    op.drop_table("plan_adaptation")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_status"))
        batch_op.drop_index(batch_op.f("ix_plan_athlete_id"))

    op.drop_table("plan")
