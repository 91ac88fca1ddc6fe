"""Request and response shapes for accounts, tokens, profiles and coach grants."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from app.core.schemas import (
    INSTANT_SCHEMA,
    SLUG_PATTERN,
    UUID_SCHEMA,
    Day,
    InputModel,
    NoNulStr,
    VisibleStr,
    Weekday,
    WritableBack,
)

ScopeName = Literal["profile:read", "profile:write", "training:read", "training:write", "plans:read", "plans:write"]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=80)]


class Experience(StrEnum):
    new = "new"
    intermediate = "intermediate"
    advanced = "advanced"


class Goal(StrEnum):
    general_resilience = "general-resilience"
    five_k = "5k"
    ten_k = "10k"
    half_marathon = "half-marathon"
    marathon = "marathon"
    ultra = "ultra"


class PainSite(StrEnum):
    mid_portion = "mid-portion"
    insertional = "insertional"


def _check_email(value: str) -> str:
    """Syntax only (RFC 5322/6531); whether the domain receives mail is not our business."""
    try:
        return validate_email(
            value,
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
            allow_quoted_local=True,
            allow_domain_literal=True,
        ).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


Email = Annotated[
    str,
    Field(max_length=320),
    AfterValidator(_check_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 320}),
]


Strict = InputModel


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone '{value}'") from exc
    return value


# ---------------------------------------------------------------- accounts


class RegisterRequest(Strict):
    email: Email = Field(description="Login email; compared case-insensitively.", examples=["ana@example.com"])
    password: NoNulStr = Field(min_length=10, max_length=128, description="10 to 128 characters.")
    display_name: VisibleStr | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Shown to coaches; defaults to the email's name. No control or invisible formatting characters.",
    )
    timezone: NoNulStr | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone, e.g. Europe/London (UTC if left out); days and weeks are counted in it.",
        examples=["Europe/Madrid"],
    )

    _tz = field_validator("timezone")(_check_timezone)


class RegistrationAccepted(BaseModel):
    """The same answer whether or not the email already had an account."""

    email: str = Field(description="The email, as it will be compared at login.")
    detail: str = Field(description="What to do next.")


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The account's id; also its athlete id.")
    email: str = Field(description="Login email.")
    display_name: str = Field(description="Name shown to coaches.")
    units: Literal["kg", "lb"] = Field(description="Preferred units for loads.")
    timezone: str = Field(description="IANA time zone, e.g. Europe/London.")
    created_at: datetime = Field(description="When the account was created.")


class UserUpdate(WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = {
        "id": UUID_SCHEMA,
        "email": {"type": "string", "format": "email"},
        "created_at": INSTANT_SCHEMA,
    }

    display_name: VisibleStr | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Name shown to coaches. No control or invisible formatting characters.",
    )
    units: Literal["kg", "lb"] | None = Field(default=None, description="Preferred units for loads.")
    timezone: NoNulStr | None = Field(default=None, max_length=64, description="IANA time zone, e.g. Europe/London.")

    _tz = field_validator("timezone")(_check_timezone)


class TokenPair(BaseModel):
    access_token: str = Field(description="A JWT to send as `Authorization: Bearer ...`.")
    token_type: Literal["bearer"] = Field(description="Always `bearer`.")
    expires_in: StrictInt = Field(description="Seconds until the access token expires.", examples=[900])
    refresh_token: str = Field(description="Send to /v1/auth/refresh for a new pair; usable once.")
    refresh_expires_in: StrictInt = Field(description="Seconds until the refresh token expires.")
    scope: str = Field(description="Space-separated scopes the access token carries.")
    device_token: str | None = Field(
        default=None,
        description="From a password login: send it as `device_token` when logging in again, so that "
        "someone else's failed guesses at the password do not lock this client out.",
    )


class RefreshRequest(Strict):
    refresh_token: str = Field(
        min_length=10, max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="The refresh token from the last pair."
    )


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=128, description="The password in use now.")
    new_password: NoNulStr = Field(min_length=10, max_length=128, description="10 to 128 characters.")


# ---------------------------------------------------------------- athlete profile


class ProfileFields(Strict):
    experience: Experience | None = Field(default=None, description="Running experience.")
    weekly_distance_km: StrictFloat | None = Field(
        default=None, ge=0, le=500, description="Typical weekly running distance."
    )
    running_days_per_week: StrictInt | None = Field(
        default=None, ge=0, le=7, description="Typical running days a week."
    )
    goal: Goal | None = Field(default=None, description="What the runner trains for.")
    race_date: Day | None = Field(default=None, description="Date of the goal race, if any.")
    goal_race_date: Day | None = Field(
        default=None,
        description="Deprecated: the old name of `race_date` (plans say `race_date`); accepted and returned.",
        json_schema_extra={"deprecated": True},
    )
    strength_sessions_per_week: StrictInt | None = Field(
        default=None, ge=2, le=3, description="Strength sessions a week."
    )
    minutes_per_session: StrictInt | None = Field(
        default=None, ge=10, le=180, description="Minutes per strength session."
    )
    equipment: list[Slug] | None = Field(
        default=None, max_length=50, description="Available equipment (catalogue equipment slugs)."
    )
    injury_history: list[Slug] | None = Field(
        default=None, max_length=50, description="Past injuries (catalogue injury slugs)."
    )
    achilles_pain: StrictInt | None = Field(default=None, ge=0, le=10, description="Current Achilles pain, 0-10.")
    achilles_pain_site: PainSite | None = Field(default=None, description="Where the Achilles pain is.")
    single_leg_heel_raises: StrictInt | None = Field(
        default=None, ge=0, le=200, description="Single-leg heel raises the runner can do in a row."
    )
    running_days: list[Weekday] | None = Field(
        default=None, max_length=7, description="Weekdays the runner usually runs; strength plans go around them."
    )
    long_run_day: Weekday | None = Field(default=None, description="Weekday of the long run.")

    @model_validator(mode="after")
    def _one_race_date(self) -> ProfileFields:
        """`race_date` and its old name `goal_race_date` are one field (stored as the latter)."""
        sent = self.__pydantic_fields_set__
        if "race_date" in sent:
            if "goal_race_date" in sent and self.goal_race_date != self.race_date:
                raise ValueError("race_date and goal_race_date (its old name) differ: send race_date only")
            self.goal_race_date = self.race_date
            sent.add("goal_race_date")
        else:
            self.race_date = self.goal_race_date
        sent.discard("race_date")
        return self


class ProfileUpdate(ProfileFields, WritableBack):
    """Fields to change; fields left out stay as they are, `null` clears one."""

    read_only: ClassVar[dict[str, dict[str, Any]]] = {"athlete_id": UUID_SCHEMA, "updated_at": INSTANT_SCHEMA}


class ProfilePublic(ProfileFields):
    model_config = ConfigDict(from_attributes=True)

    athlete_id: uuid.UUID = Field(description="Whose profile this is.")
    equipment: list[Slug] = Field(description="Available equipment (catalogue equipment slugs).")
    injury_history: list[Slug] = Field(description="Past injuries (catalogue injury slugs).")
    running_days: list[Weekday] = Field(description="Weekdays the runner usually runs.")
    updated_at: datetime = Field(description="When it last changed.")


class AthletePublic(BaseModel):
    id: uuid.UUID = Field(description="The athlete's id.")
    display_name: str = Field(description="Their display name.")
    units: Literal["kg", "lb"] = Field(description="Their preferred units.")
    timezone: str = Field(description="Their time zone.")
    access: Literal["owner", "read", "write"] = Field(description="Your access to their data.")


# ---------------------------------------------------------------- personal access tokens


class TokenCreate(Strict):
    name: NoNulStr = Field(
        min_length=1, max_length=100, description="What the token is for.", examples=["CoachApp sync"]
    )
    scopes: list[ScopeName] = Field(min_length=1, max_length=6, description="What the token may do.")
    expires_in_days: StrictInt = Field(default=90, ge=1, le=365, description="Days until it expires.")


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The token's id.")
    name: str = Field(description="What the token is for.")
    prefix: str = Field(description="The token's first characters, to recognise it.")
    scopes: list[str] = Field(description="What the token may do.")
    created_at: datetime = Field(description="When it was created.")
    expires_at: datetime = Field(description="When it expires.")
    last_used_at: datetime | None = Field(description="When it was last used (to the minute).")


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. It is shown only once: store it now.")


# ---------------------------------------------------------------- coach grants


class GrantCreate(Strict):
    coach_email: Email = Field(description="The coach's email; they accept once they have an account with it.")
    access: Literal["read", "write"] = Field(description="read: see your data; write: also change it.")


class PersonRef(BaseModel):
    id: uuid.UUID = Field(description="The account's id.")
    display_name: str = Field(description="Its display name.")


GrantStatus = Literal["pending", "active"]


class GrantPublic(BaseModel):
    id: uuid.UUID = Field(description="The grant's id.")
    status: GrantStatus = Field(description="pending: invited, not yet accepted; active: the coach has access.")
    coach_email: str = Field(description="The email the invitation was sent to.")
    coach: PersonRef | None = Field(description="The coach, once they accepted; null while pending.")
    access: Literal["read", "write"] = Field(description="What the coach may do.")
    scopes: list[str] = Field(description="The scopes the grant gives.")
    created_at: datetime = Field(description="When it was granted.")
    accepted_at: datetime | None = Field(description="When the coach accepted; null while pending.")


class InvitationPublic(BaseModel):
    id: uuid.UUID = Field(description="The invitation's id; accept or decline it under /v1/me/invitations.")
    athlete: PersonRef = Field(description="The athlete inviting you to coach them.")
    access: Literal["read", "write"] = Field(description="What you would be allowed to do.")
    scopes: list[str] = Field(description="The scopes the grant would give.")
    invited_at: datetime = Field(description="When the athlete invited you.")


class CoachedAthlete(BaseModel):
    athlete: PersonRef = Field(description="The athlete; use their id under /v1/athletes/{athlete_id}.")
    access: Literal["read", "write"] = Field(description="What you may do.")
    scopes: list[str] = Field(description="The scopes the grant gives.")
    granted_at: datetime = Field(description="When the athlete granted it.")
