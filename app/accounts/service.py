"""Access: who is calling (a login session's JWT or a personal access token), whether
their login is recent enough for a sensitive operation, and what they may touch.
The rest of accounts lives beside it: sessions (register, login, refresh, logout,
password), tokens, grants (coach invitations) and profile (the account and its erasure)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from app.accounts import security
from app.accounts.models import CoachGrant, LoginSession, PersonalAccessToken, utcnow
from app.core.config import Settings
from app.core.db import table_of
from app.core.direct import Direct
from app.core.errors import Forbidden, NotFound, ReauthenticationRequired, Unauthorized
from app.core.ratelimit import LookupNeeded

BEARER = {"WWW-Authenticate": "Bearer"}
PAT_TOUCH_INTERVAL = timedelta(minutes=1)
Access = Literal["owner", "read", "write"]


def normalise_email(email: str) -> str:
    return email.strip().lower()


def grant_scopes(access: str) -> list[str]:
    return sorted(security.ALL_SCOPES if access == "write" else security.READ_SCOPES)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what their credential allows. ``auth_time`` is when a login
    session last checked the password (None for personal access tokens); ``client_id``
    names the OAuth2 app an ``app`` credential was issued to."""

    user_id: uuid.UUID
    scopes: frozenset[str]
    kind: Literal["session", "token", "app"]
    auth_time: datetime | None = None
    client_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None  # the personal access token's id (kind "token")


_LOGINS = table_of(LoginSession).c
# Compiled once, run on the driver (app.core.direct): the columns a request's credential check reads.
_LOGIN = Direct(
    sa.select(_LOGINS.user_id, _LOGINS.revoked_at, _LOGINS.client_id, _LOGINS.scopes, _LOGINS.auth_time).where(
        _LOGINS.id == sa.bindparam("id")
    )
)


_GRANTS = table_of(CoachGrant).c
# A statement on the driver: on PostgreSQL, before a write's first statement, a transaction
# of its own (app.core.direct), so nothing of it is held through the write.
_GRANT = Direct(
    sa.select(_GRANTS.access)
    .where(
        _GRANTS.athlete_id == sa.bindparam("athlete_id"),
        _GRANTS.coach_id == sa.bindparam("coach_id"),
        _GRANTS.status == "active",
    )
    .limit(1)
)


def authenticate(session: Session, settings: Settings, bearer: str) -> Principal:
    """One indexed read either way: the personal token by its hash, or the JWT's login
    session by its id (a revoked or erased session ends the token at once)."""
    now = utcnow()
    if bearer.startswith(security.PAT_PREFIX):
        pat = session.exec(
            select(PersonalAccessToken).where(PersonalAccessToken.token_hash == security.token_digest(bearer))
        ).first()
        if pat is None or pat.expires_at <= now:
            raise Unauthorized("The personal access token is unknown, revoked or expired.", headers=BEARER)
        principal = Principal(user_id=pat.user_id, scopes=frozenset(pat.scopes), kind="token", token_id=pat.id)
        if pat.last_used_at is None or now - pat.last_used_at >= PAT_TOUCH_INTERVAL:
            pat.last_used_at = now
            try:
                session.commit()
            except OperationalError:  # best effort: a busy database must not fail the request
                session.rollback()
        return principal
    claims = security.decode_access_token(settings, bearer)
    if claims is None:
        raise Unauthorized("The access token is invalid or expired.", headers=BEARER)
    login = _LOGIN.first(session, {"id": claims.session_id})
    if login is None or login.user_id != claims.user_id or login.revoked_at is not None:
        raise Unauthorized(
            "This login has ended (logged out, revoked or account erased); log in again.", headers=BEARER
        )
    if login.client_id is not None:  # an OAuth2 app's: at most the scopes the athlete consented to
        scopes = claims.scopes & frozenset(login.scopes or ())
        return Principal(user_id=claims.user_id, scopes=scopes, kind="app", client_id=login.client_id)
    return Principal(user_id=claims.user_id, scopes=claims.scopes, kind="session", auth_time=login.auth_time)


def require_session(principal: Principal) -> None:
    if principal.kind != "session":
        raise Forbidden("This needs a login session; personal access tokens and apps cannot do it.")


def require_recent_login(principal: Principal, settings: Settings) -> None:
    """Sensitive operations (minting tokens, granting coaches, erasing the account) need a
    login session whose password check is at most ``reauth_window_minutes`` old, so a
    stolen access token alone cannot make access outlive it."""
    require_session(principal)
    window = timedelta(minutes=settings.reauth_window_minutes)
    if principal.auth_time is None or utcnow() - principal.auth_time > window:
        max_age = int(window.total_seconds())
        raise ReauthenticationRequired(
            f"This needs a login from the last {settings.reauth_window_minutes} minutes: "
            "log in again with your password (POST /v1/auth/token), then retry with the new access token.",
            headers={
                "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
                f'error_description="A recent login is required", max_age="{max_age}"'
            },
            max_age=max_age,
        )


@dataclass(frozen=True, slots=True)
class AthleteAccess:
    athlete_id: uuid.UUID
    principal: Principal
    access: Access


def own_athlete(principal: Principal, athlete_id: str) -> AthleteAccess | None:
    """The caller's access to their own data (``me`` or their id); None for any other id."""
    if athlete_id == "me" or athlete_id == str(principal.user_id):
        return AthleteAccess(principal.user_id, principal, "owner")
    return None


def resolve_athlete(session: Session, principal: Principal, athlete_id: str, scope: str) -> AthleteAccess:
    """The one place that decides whether ``principal`` may use ``scope`` on an athlete's data."""
    own = own_athlete(principal, athlete_id)
    if own is not None:
        return own
    try:
        target = uuid.UUID(athlete_id)
    except ValueError:
        raise NotFound(f"No athlete '{athlete_id}'.") from None
    if target == principal.user_id:
        return AthleteAccess(target, principal, "owner")
    grant = _GRANT.first(session, {"athlete_id": target, "coach_id": principal.user_id})
    if grant is None:
        raise NotFound(f"No athlete '{athlete_id}'.")
    if scope not in grant_scopes(grant.access):
        raise Forbidden(f"Your grant from this athlete is read-only; '{scope}' needs write access.")
    return AthleteAccess(target, principal, "write" if grant.access == "write" else "read")


def client_identity(settings: Settings) -> Callable[[Session | sa.Connection | None, str], str | None]:
    """Who a bearer credential belongs to, for the rate limits: the user named by a valid
    access JWT (checked by signature, no database read) or by a live personal access token
    (one indexed read, so a user's tokens share one budget and a made-up token gets
    none). None for anything else, which then counts against the caller's address."""

    def identify(session: Session | sa.Connection | None, credential: str) -> str | None:
        if credential.startswith(security.PAT_PREFIX):
            if session is None:
                raise LookupNeeded
            user_id = session.execute(
                select(PersonalAccessToken.user_id).where(
                    PersonalAccessToken.token_hash == security.token_digest(credential),
                    col(PersonalAccessToken.expires_at) > utcnow(),
                )
            ).scalar()
            return f"user:{user_id}" if user_id else None
        claims = security.decode_access_token(settings, credential)
        return f"user:{claims.user_id}" if claims else None

    return identify
