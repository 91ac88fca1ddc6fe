"""Accounts: registration, login with rate limits, token rotation, profiles, personal
access tokens and coach grants. Services commit their own writes before returning."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from app.accounts import schemas as s
from app.accounts import security
from app.accounts.models import AthleteProfile, CoachGrant, PersonalAccessToken, RefreshToken, User, utcnow
from app.catalogue import models as catalogue
from app.core import ratelimit
from app.core.config import Settings
from app.core.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized
from app.core.pagination import PageParams, page_rows
from app.core.schemas import WEEKDAY_NAMES

BEARER = {"WWW-Authenticate": "Bearer"}
PAT_TOUCH_INTERVAL = timedelta(minutes=1)
Access = Literal["owner", "read", "write"]


def normalise_email(email: str) -> str:
    return email.strip().lower()


def account_key(email: str) -> str:
    return f"login:account:{normalise_email(email)}"


def grant_scopes(access: str) -> list[str]:
    return sorted(security.ALL_SCOPES if access == "write" else security.READ_SCOPES)


# ---------------------------------------------------------------- registration and login


def register(session: Session, settings: Settings, data: s.RegisterRequest) -> User:
    if len(data.password) < settings.password_min_length:
        raise InvalidInput(
            f"The password needs at least {settings.password_min_length} characters.",
            name="password",
            location="body",
        )
    email = normalise_email(data.email)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict("An account with this email already exists.")
    user = User(
        email=email,
        password_hash=security.hash_password(settings, data.password),
        display_name=data.display_name or email.split("@", 1)[0],
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration with this email won
        session.rollback()
        raise Conflict("An account with this email already exists.") from exc
    session.add(AthleteProfile(user_id=user.id))
    session.commit()
    session.refresh(user)
    return user


def _limit(session: Session, key: str, limit: int, window_s: int) -> None:
    decision = ratelimit.hit(session, key, limit=limit, window_s=window_s)
    if not decision.allowed:
        raise TooManyRequests(
            f"Too many login attempts; try again in {decision.retry_after_s} s.",
            headers={"Retry-After": str(decision.retry_after_s)},
        )


def login(session: Session, settings: Settings, email: str, password: str, client: str) -> s.TokenPair:
    """Check the rate limits, then the password (unknown emails cost the same), then issue a pair."""
    _limit(session, account_key(email), settings.login_limit_per_account, settings.login_window_s)
    _limit(session, f"login:address:{client}", settings.login_limit_per_address, settings.login_window_s)
    found = session.exec(select(User.id, User.password_hash).where(User.email == normalise_email(email))).first()
    session.rollback()  # hold no lock while the hash is checked
    if not security.verify_password(settings, password, found[1] if found else None) or found is None:
        raise Unauthorized("The email or password is wrong.", headers=BEARER)
    return _issue_pair(session, settings, found[0], family_id=uuid.uuid4())


def _issue_pair(session: Session, settings: Settings, user_id: uuid.UUID, family_id: uuid.UUID) -> s.TokenPair:
    now = utcnow()
    refresh = security.new_secret(security.REFRESH_PREFIX)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=security.token_digest(refresh),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    session.commit()
    access, ttl = security.issue_access_token(settings, user_id, now)
    return s.TokenPair(
        access_token=access,
        token_type="bearer",  # noqa: S106
        expires_in=ttl,
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_ttl_s,
        scope=" ".join(sorted(security.ALL_SCOPES)),
    )


def _revoke_family(session: Session, family_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def refresh(session: Session, settings: Settings, token: str) -> s.TokenPair:
    """Rotate: the presented token is used up and a new pair issued in its family.
    Presenting a used or revoked token revokes the whole family (a stolen token was replayed)."""
    now = utcnow()
    row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == security.token_digest(token))).first()
    if row is None:
        raise Unauthorized("Unknown refresh token.", headers=BEARER)
    claimed = session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == row.id,
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        _revoke_family(session, row.family_id, now)
        session.commit()
        raise Unauthorized("This refresh token was already used; its sessions are revoked.", headers=BEARER)
    if row.expires_at <= now:
        session.rollback()
        raise Unauthorized("The refresh token has expired; log in again.", headers=BEARER)
    return _issue_pair(session, settings, row.user_id, row.family_id)


def logout(session: Session, token: str) -> None:
    """Revoke the refresh token's family; unknown tokens are ignored."""
    row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == security.token_digest(token))).first()
    if row is not None:
        _revoke_family(session, row.family_id, utcnow())
        session.commit()


# ---------------------------------------------------------------- authentication


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what their credential allows."""

    user_id: uuid.UUID
    scopes: frozenset[str]
    kind: Literal["session", "token"]


def authenticate(session: Session, settings: Settings, bearer: str) -> Principal:
    now = utcnow()
    if bearer.startswith(security.PAT_PREFIX):
        pat = session.exec(
            select(PersonalAccessToken).where(PersonalAccessToken.token_hash == security.token_digest(bearer))
        ).first()
        if pat is None or pat.expires_at <= now:
            raise Unauthorized("The personal access token is unknown, revoked or expired.", headers=BEARER)
        principal = Principal(user_id=pat.user_id, scopes=frozenset(pat.scopes), kind="token")
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
    if session.get(User, claims.user_id) is None:
        raise Unauthorized("The account no longer exists.", headers=BEARER)
    return Principal(user_id=claims.user_id, scopes=claims.scopes, kind="session")


@dataclass(frozen=True, slots=True)
class AthleteAccess:
    athlete_id: uuid.UUID
    principal: Principal
    access: Access


def resolve_athlete(session: Session, principal: Principal, athlete_id: str, scope: str) -> AthleteAccess:
    """The one place that decides whether ``principal`` may use ``scope`` on an athlete's data."""
    if athlete_id == "me":
        return AthleteAccess(principal.user_id, principal, "owner")
    try:
        target = uuid.UUID(athlete_id)
    except ValueError:
        raise NotFound(f"No athlete '{athlete_id}'.") from None
    if target == principal.user_id:
        return AthleteAccess(target, principal, "owner")
    grant = session.exec(
        select(CoachGrant).where(CoachGrant.athlete_id == target, CoachGrant.coach_id == principal.user_id)
    ).first()
    if grant is None:
        raise NotFound(f"No athlete '{athlete_id}'.")
    if scope not in grant_scopes(grant.access):
        raise Forbidden(f"Your grant from this athlete is read-only; '{scope}' needs write access.")
    return AthleteAccess(target, principal, "write" if grant.access == "write" else "read")


def require_session(principal: Principal) -> None:
    if principal.kind != "session":
        raise Forbidden("This needs a login session; personal access tokens cannot do it.")


# ---------------------------------------------------------------- me


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    return user


def update_user(session: Session, user_id: uuid.UUID, data: s.UserUpdate) -> User:
    user = get_user(session, user_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise InvalidInput(f"'{name}' cannot be null.", name=name, location="body")
        setattr(user, name, value)
    user.updated_at = utcnow()
    session.commit()
    session.refresh(user)
    return user


def delete_user(session: Session, user_id: uuid.UUID) -> None:
    """Erase the account and everything it owns, in one transaction."""
    user = get_user(session, user_id)
    ratelimit.forget(session, account_key(user.email))
    session.delete(user)
    session.commit()


def get_athlete(session: Session, access: AthleteAccess) -> s.AthletePublic:
    user = get_user(session, access.athlete_id)
    return s.AthletePublic(
        id=user.id,
        display_name=user.display_name,
        units=user.units,
        timezone=user.timezone,
        access=access.access,
    )


# ---------------------------------------------------------------- profile


def _profile_public(profile: AthleteProfile) -> s.ProfilePublic:
    return s.ProfilePublic.model_validate({**profile.model_dump(exclude={"user_id"}), "athlete_id": profile.user_id})


def get_profile(session: Session, athlete_id: uuid.UUID) -> s.ProfilePublic:
    profile = session.get(AthleteProfile, athlete_id)
    if profile is None:
        raise NotFound("No such athlete profile.")
    return _profile_public(profile)


def _unknown(
    session: Session, model: type[catalogue.Equipment] | type[catalogue.Injury], slugs: list[str]
) -> list[str]:
    known = set(session.exec(select(model.slug).where(col(model.slug).in_(slugs))).all())
    return sorted(set(slugs) - known)


def update_profile(session: Session, athlete_id: uuid.UUID, data: s.ProfileUpdate) -> s.ProfilePublic:
    profile = session.get(AthleteProfile, athlete_id)
    if profile is None:
        raise NotFound("No such athlete profile.")
    changes = data.model_dump(exclude_unset=True, mode="json")
    problems = []
    if "running_days" in changes:
        changes["running_days"] = sorted(set(changes["running_days"] or []), key=WEEKDAY_NAMES.index)
    for field, model in (("equipment", catalogue.Equipment), ("injury_history", catalogue.Injury)):
        if changes.get(field) is None and field in changes:
            changes[field] = []
        if unknown := _unknown(session, model, changes.get(field) or []):
            problems.append(
                FieldProblem(
                    name=field, location="body", detail=f"unknown slugs: {', '.join(unknown)}", type="unknown_slug"
                )
            )
    if problems:
        raise InvalidInput.of(problems)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(profile, name, changes[name] if name in ("equipment", "injury_history", "running_days") else value)
    profile.updated_at = utcnow()
    session.commit()
    session.refresh(profile)
    return _profile_public(profile)


# ---------------------------------------------------------------- personal access tokens


def create_token(session: Session, user_id: uuid.UUID, data: s.TokenCreate) -> s.TokenCreated:
    secret = security.new_secret(security.PAT_PREFIX)
    now = utcnow()
    pat = PersonalAccessToken(
        user_id=user_id,
        name=data.name,
        prefix=secret[: len(security.PAT_PREFIX) + 6],
        token_hash=security.token_digest(secret),
        scopes=sorted(set(data.scopes)),
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days),
    )
    session.add(pat)
    session.commit()
    session.refresh(pat)
    return s.TokenCreated.model_validate({**pat.model_dump(), "token": secret})


def list_tokens(session: Session, user_id: uuid.UUID, params: PageParams) -> tuple[list[s.TokenPublic], int]:
    stmt = select(PersonalAccessToken).where(PersonalAccessToken.user_id == user_id)
    rows, total = page_rows(session, stmt, params, col(PersonalAccessToken.created_at), col(PersonalAccessToken.id))
    return [s.TokenPublic.model_validate(r) for r in rows], total


def delete_token(session: Session, user_id: uuid.UUID, token_id: uuid.UUID) -> None:
    pat = session.get(PersonalAccessToken, token_id)
    if pat is None or pat.user_id != user_id:
        raise NotFound(f"No token '{token_id}'.")
    session.delete(pat)
    session.commit()


# ---------------------------------------------------------------- coach grants


def _grant_public(grant: CoachGrant, coach: User) -> s.GrantPublic:
    return s.GrantPublic(
        id=grant.id,
        coach=s.PersonRef(id=coach.id, display_name=coach.display_name),
        access=grant.access,
        scopes=grant_scopes(grant.access),
        created_at=grant.created_at,
    )


def create_grant(session: Session, athlete_id: uuid.UUID, data: s.GrantCreate) -> s.GrantPublic:
    coach = session.exec(select(User).where(User.email == normalise_email(data.coach_email))).first()
    if coach is None:
        raise NotFound("No account with that email.")
    if coach.id == athlete_id:
        raise InvalidInput("You cannot be your own coach.", name="coach_email", location="body")
    exists = session.exec(
        select(CoachGrant.id).where(CoachGrant.athlete_id == athlete_id, CoachGrant.coach_id == coach.id)
    ).first()
    if exists is not None:
        raise Conflict("This coach already has a grant; revoke it to change its access.")
    grant = CoachGrant(athlete_id=athlete_id, coach_id=coach.id, access=data.access)
    session.add(grant)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent grant to the same coach won
        session.rollback()
        raise Conflict("This coach already has a grant.") from exc
    session.commit()
    session.refresh(grant)
    return _grant_public(grant, coach)


def list_grants(session: Session, athlete_id: uuid.UUID, params: PageParams) -> tuple[list[s.GrantPublic], int]:
    stmt = (
        select(CoachGrant, User)
        .join(User, col(User.id) == CoachGrant.coach_id)
        .where(CoachGrant.athlete_id == athlete_id)
    )
    rows, total = page_rows(session, stmt, params, col(CoachGrant.created_at), col(CoachGrant.id))
    return [_grant_public(grant, coach) for grant, coach in rows], total


def revoke_grant(session: Session, athlete_id: uuid.UUID, grant_id: uuid.UUID) -> None:
    grant = session.get(CoachGrant, grant_id)
    if grant is None or grant.athlete_id != athlete_id:
        raise NotFound(f"No grant '{grant_id}'.")
    session.delete(grant)
    session.commit()


def list_coached(session: Session, coach_id: uuid.UUID, params: PageParams) -> tuple[list[s.CoachedAthlete], int]:
    stmt = (
        select(CoachGrant, User)
        .join(User, col(User.id) == CoachGrant.athlete_id)
        .where(CoachGrant.coach_id == coach_id)
    )
    rows, total = page_rows(session, stmt, params, col(User.display_name), col(User.id))
    return [
        s.CoachedAthlete(
            athlete=s.PersonRef(id=athlete.id, display_name=athlete.display_name),
            access=grant.access,
            scopes=grant_scopes(grant.access),
            granted_at=grant.created_at,
        )
        for grant, athlete in rows
    ], total


def client_identity(settings: Settings) -> Callable[[Session, str], str | None]:
    """Who a bearer credential belongs to, for the rate limits: the user named by a valid
    access JWT (checked by signature, no database read) or by a live personal access token
    (one indexed read, so a user's tokens share one budget and a made-up token gets
    none). None for anything else, which then counts against the caller's address."""

    def identify(session: Session, credential: str) -> str | None:
        if credential.startswith(security.PAT_PREFIX):
            user_id = session.exec(
                select(PersonalAccessToken.user_id).where(
                    PersonalAccessToken.token_hash == security.token_digest(credential),
                    col(PersonalAccessToken.expires_at) > utcnow(),
                )
            ).first()
            return f"user:{user_id}" if user_id else None
        claims = security.decode_access_token(settings, credential)
        return f"user:{claims.user_id}" if claims else None

    return identify
