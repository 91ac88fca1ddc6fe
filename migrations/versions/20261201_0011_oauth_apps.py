"""OAuth2 apps: registered clients, authorization codes, and logins of an app

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01 19:00:00

A consent to an app is a login session of that app (client_id) with the scopes consented
to; existing logins are first-party (both columns null) and keep working.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_app",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("redirect_uris", JSON, nullable=False),
        sa.Column("logo_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("client_type", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], name=op.f("fk_oauth_app_owner_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_app")),
    )
    with op.batch_alter_table("oauth_app", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_app_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "oauth_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("code_challenge", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("code_challenge_method", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["oauth_app.id"], name=op.f("fk_oauth_code_client_id_oauth_app"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_oauth_code_user_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_code_code_hash")),
    )
    with op.batch_alter_table("oauth_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_code_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_code_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("scopes", JSON, nullable=True))
        batch_op.create_index(batch_op.f("ix_login_session_client_id"), ["client_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_login_session_client_id_oauth_app"), "oauth_app", ["client_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_login_session_client_id_oauth_app"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_login_session_client_id"))
        batch_op.drop_column("scopes")
        batch_op.drop_column("client_id")

    with op.batch_alter_table("oauth_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_code_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_code_client_id"))

    op.drop_table("oauth_code")
    with op.batch_alter_table("oauth_app", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_app_owner_id"))

    op.drop_table("oauth_app")
