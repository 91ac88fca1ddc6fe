"""training log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 05:07:51.975718
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "change",
        sa.Column("athlete_id", sa.Uuid(), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("op", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"], ["user.id"], name=op.f("fk_change_athlete_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("athlete_id", "entity", "entity_id", name=op.f("pk_change")),
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.create_index("ix_change_athlete_seq", ["athlete_id", "seq"], unique=True)

    op.create_table(
        "checkin",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("athlete_id", sa.Uuid(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "sites", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("visa_a", sa.Integer(), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"], ["user.id"], name=op.f("fk_checkin_athlete_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin")),
    )
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index("ix_checkin_athlete_date", ["athlete_id", "date", "id"], unique=False)

    op.create_table(
        "idempotency_key",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True),
        sa.Column(
            "headers", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_idempotency_key_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_key")),
    )
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_key_created_at"), ["created_at"], unique=False)

    op.create_table(
        "run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("athlete_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("session_rpe", sa.Float(), nullable=True),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("surface", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("pain_during", sa.Integer(), nullable=True),
        sa.Column("pain_site", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["user.id"], name=op.f("fk_run_athlete_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
    )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.create_index("ix_run_athlete_started", ["athlete_id", "started_at", "id"], unique=False)

    op.create_table(
        "sync_counter",
        sa.Column("athlete_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"], ["user.id"], name=op.f("fk_sync_counter_athlete_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("athlete_id", name=op.f("pk_sync_counter")),
    )
    op.create_table(
        "workout",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("athlete_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("planned_session_id", sa.Uuid(), nullable=True),
        sa.Column("session_rpe", sa.Float(), nullable=True),
        sa.Column("pain_during", sa.Integer(), nullable=True),
        sa.Column("pain_site", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"], ["user.id"], name=op.f("fk_workout_athlete_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workout")),
    )
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.create_index("ix_workout_athlete_started", ["athlete_id", "started_at", "id"], unique=False)

    op.create_table(
        "workout_set",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workout_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("exercise_slug", sa.String(length=80), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("reps", sa.Integer(), nullable=True),
        sa.Column("hold_seconds", sa.Integer(), nullable=True),
        sa.Column("load_kg", sa.Float(), nullable=False),
        sa.Column("tempo", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("rpe", sa.Float(), nullable=True),
        sa.Column("rir", sa.Integer(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exercise_slug"],
            ["exercise.slug"],
            name=op.f("fk_workout_set_exercise_slug_exercise"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["workout_id"], ["workout.id"], name=op.f("fk_workout_set_workout_id_workout"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workout_set")),
        sa.UniqueConstraint("workout_id", "position", name=op.f("uq_workout_set_workout_id_position")),
    )
    with op.batch_alter_table("workout_set", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workout_set_exercise_slug"), ["exercise_slug"], unique=False)
        batch_op.create_index(batch_op.f("ix_workout_set_workout_id"), ["workout_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("workout_set", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workout_set_workout_id"))
        batch_op.drop_index(batch_op.f("ix_workout_set_exercise_slug"))

    op.drop_table("workout_set")
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.drop_index("ix_workout_athlete_started")

    op.drop_table("workout")
    op.drop_table("sync_counter")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_athlete_started")

    op.drop_table("run")
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_key_created_at"))

    op.drop_table("idempotency_key")
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index("ix_checkin_athlete_date")

    op.drop_table("checkin")
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index("ix_change_athlete_seq")

    op.drop_table("change")
