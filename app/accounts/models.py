"""Accounts tables: users, athlete profiles, refresh tokens, personal access tokens and
coach grants. Everything a user owns references ``user.id`` with ON DELETE CASCADE, so
erasing the user row erases the rest in the same transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from app.catalogue.models import JSONType
from app.core.db import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    """A UTC timestamp column; non-nullable ones default to now."""
    column: Column[datetime] = Column(UTCDateTime(), nullable=nullable, index=index)
    if nullable:
        return Field(default=None, sa_column=column)
    return Field(default_factory=utcnow, sa_column=column)


def owner_fk(*, primary_key: bool = False, index: bool = True) -> Any:
    return Field(
        sa_column=Column(
            Uuid,
            ForeignKey("user.id", ondelete="CASCADE"),
            primary_key=primary_key,
            nullable=False,
            index=index and not primary_key,
        )
    )


class User(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=255)
    display_name: str = Field(max_length=100)
    units: str = Field(default="kg", max_length=2)
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class AthleteProfile(SQLModel, table=True):
    __tablename__ = "athlete_profile"

    user_id: uuid.UUID = owner_fk(primary_key=True)
    experience: str | None = Field(default=None, max_length=20)
    weekly_distance_km: float | None = None
    running_days_per_week: int | None = None
    goal: str | None = Field(default=None, max_length=20)
    goal_race_date: date | None = None
    strength_sessions_per_week: int | None = None
    minutes_per_session: int | None = None
    equipment: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    injury_history: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    achilles_pain: int | None = None
    achilles_pain_site: str | None = Field(default=None, max_length=20)
    single_leg_heel_raises: int | None = None
    running_days: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    long_run_day: str | None = Field(default=None, max_length=9)
    updated_at: datetime = timestamp()


class RefreshToken(SQLModel, table=True):
    """One refresh token; rotation links a family. A reused token revokes its family."""

    __tablename__ = "refresh_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = owner_fk()
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)
    revoked_at: datetime | None = timestamp(nullable=True)


class LoginSession(SQLModel, table=True):
    """One login: its id is the refresh-token family's and the access tokens' ``sid``.
    Revoking it ends the refresh tokens and the access tokens of that login at once.
    An athlete's consent to an OAuth2 app is a login too, of that app (``client_id``),
    limited to the ``scopes`` consented to (None: a first-party login, every scope)."""

    __tablename__ = "login_session"

    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = owner_fk()
    created_at: datetime = timestamp()
    auth_time: datetime = timestamp()
    revoked_at: datetime | None = timestamp(nullable=True)
    client_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("oauth_app.id", ondelete="CASCADE"), nullable=True, index=True),
    )
    scopes: list[str] | None = Field(default=None, sa_type=JSONType, nullable=True)


class OAuthApp(SQLModel, table=True):
    """A registered OAuth2 application (client). Confidential apps hold a secret, stored
    as its SHA-256 hash; public apps (mobile, single-page) have none and rely on PKCE."""

    __tablename__ = "oauth_app"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = owner_fk()
    name: str = Field(max_length=100)
    redirect_uris: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    logo_url: str | None = Field(default=None, max_length=2000)
    client_type: str = Field(max_length=12)
    secret_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = timestamp()
    secret_rotated_at: datetime | None = timestamp(nullable=True)


class AuthorizationCode(SQLModel, table=True):
    """A code from the consent page: single-use, short-lived, bound to its app, redirect
    URI and PKCE challenge. ``session_id`` is the login its exchange opened, revoked if
    the code is presented again."""

    __tablename__ = "oauth_code"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    client_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("oauth_app.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    user_id: uuid.UUID = owner_fk()
    redirect_uri: str = Field(max_length=2000)
    scopes: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    code_challenge: str = Field(max_length=128)
    code_challenge_method: str = Field(max_length=10)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)
    session_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))


class PersonalAccessToken(SQLModel, table=True):
    __tablename__ = "personal_access_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = owner_fk()
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    last_used_at: datetime | None = timestamp(nullable=True)


class CoachGrant(SQLModel, table=True):
    """An athlete invites a coach by email to read (or read and write) their data; the
    grant is ``pending`` (no ``coach_id``) until the account with that email accepts it."""

    __tablename__ = "coach_grant"
    __table_args__ = (UniqueConstraint("athlete_id", "coach_id"), UniqueConstraint("athlete_id", "coach_email"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    athlete_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    coach_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user.id", ondelete="CASCADE"), nullable=True, index=True)
    )
    coach_email: str = Field(max_length=320, index=True)
    status: str = Field(default="pending", max_length=10)
    access: str = Field(max_length=10)
    created_at: datetime = timestamp()
    accepted_at: datetime | None = timestamp(nullable=True)
