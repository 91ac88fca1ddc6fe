"""login sessions (revocable access tokens) and coach grants as invitations

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:30:00

Every refresh-token family gets a login session (live unless all its tokens were
revoked), so refresh tokens issued before this revision keep working. Existing coach
grants become accepted invitations addressed to the coach's email.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_login_session_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_session_user_id"), ["user_id"], unique=False)
    op.execute(
        "INSERT INTO login_session (id, user_id, created_at, auth_time, revoked_at) "
        "SELECT family_id, user_id, MIN(created_at), MIN(created_at), "
        "CASE WHEN COUNT(revoked_at) = COUNT(*) THEN MAX(revoked_at) END "
        "FROM refresh_token GROUP BY family_id, user_id"
    )

    with op.batch_alter_table("coach_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coach_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True))
        batch_op.add_column(sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE coach_grant SET status = 'active', accepted_at = created_at, coach_email = "
        '(SELECT email FROM "user" WHERE "user".id = coach_grant.coach_id)'
    )
    with op.batch_alter_table("coach_grant", schema=None) as batch_op:
        batch_op.alter_column("coach_email", existing_type=sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False)
        batch_op.alter_column("status", existing_type=sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False)
        batch_op.alter_column("coach_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(batch_op.f("ix_coach_grant_coach_email"), ["coach_email"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_coach_grant_athlete_id_coach_email"), ["athlete_id", "coach_email"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM coach_grant WHERE coach_id IS NULL")  # pending invitations have no coach yet
    with op.batch_alter_table("coach_grant", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_coach_grant_athlete_id_coach_email"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_coach_grant_coach_email"))
        batch_op.alter_column("coach_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("status")
        batch_op.drop_column("coach_email")

    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_session_user_id"))
    op.drop_table("login_session")
