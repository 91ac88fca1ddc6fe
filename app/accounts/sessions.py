"""Registration and login sessions: register, log in (rate-limited), rotate refresh
tokens, log out and change the password. A login is a row of ``login_session``: its id
is the refresh-token family's and every access token's ``sid``, so revoking it (logout,
a replayed refresh token, a password change) ends the access tokens too.
Services commit their own writes before returning."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounts import schemas as s
from app.accounts import security
from app.accounts.models import AthleteProfile, LoginSession, RefreshToken, User, utcnow
from app.accounts.service import BEARER, normalise_email
from app.core import ratelimit
from app.core.config import Settings
from app.core.errors import Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized

REGISTERED = (
    "If no account used this email, one has been created with this password. Log in at /v1/auth/token to continue."
)


def account_key(email: str) -> str:
    return f"login:account:{normalise_email(email)}"


def device_key(user_id: uuid.UUID, device_id: str) -> str:
    return f"login:device:user:{user_id}:{device_id}"


def _check_password_length(settings: Settings, password: str, name: str) -> None:
    if len(password) < settings.password_min_length:
        raise InvalidInput(
            f"The password needs at least {settings.password_min_length} characters.", name=name, location="body"
        )


# ---------------------------------------------------------------- registration


def register(session: Session, settings: Settings, data: s.RegisterRequest) -> s.RegistrationAccepted:
    """Create the account if the email is new. The answer, and the work done (one
    password hash), are the same whether or not the email already had an account, so
    registration does not tell who has one."""
    _check_password_length(settings, data.password, "password")
    email = normalise_email(data.email)
    password_hash = security.hash_password(settings, data.password)
    if session.exec(select(User.id).where(User.email == email)).first() is None:
        user = User(
            email=email,
            password_hash=password_hash,
            display_name=data.display_name or email.split("@", 1)[0],
            timezone=data.timezone or "UTC",
        )
        session.add(user)
        try:
            session.flush()
            session.add(AthleteProfile(user_id=user.id))
            session.commit()
        except IntegrityError:  # a concurrent registration with this email won: same answer
            session.rollback()
    else:
        session.rollback()
    return s.RegistrationAccepted(email=email, detail=REGISTERED)


# ---------------------------------------------------------------- login


def _limit(session: Session, key: str, limit: int, window_s: int) -> None:
    decision = ratelimit.hit(session, key, limit=limit, window_s=window_s)
    if not decision.allowed:
        raise TooManyRequests(
            f"Too many login attempts; try again in {decision.retry_after_s} s.",
            headers={"Retry-After": str(decision.retry_after_s)},
        )


def login(
    session: Session, settings: Settings, email: str, password: str, client: str, device_token: str | None = None
) -> s.TokenPair:
    """Check the rate limits, then the password (unknown emails cost the same), then open a
    login session.

    Every attempt counts against the client's address. Attempts from a client that holds
    a device token for this account (from an earlier login) count against that device;
    all others count against the account, so guessing stays bounded while someone else's
    guesses cannot lock the owner's devices out."""
    window = settings.login_window_s
    _limit(session, f"login:address:{client}", settings.login_limit_per_address, window)
    found = session.exec(select(User.id, User.password_hash).where(User.email == normalise_email(email))).first()
    device = security.decode_device_token(settings, device_token) if device_token else None
    key = account_key(email)
    if found is not None and device is not None and device[0] == found[0]:
        key = device_key(found[0], device[1])
    else:
        device_token = None
    _limit(session, key, settings.login_limit_per_account, window)  # commits: hold no lock while hashing
    if not security.verify_password(settings, password, found[1] if found else None) or found is None:
        raise Unauthorized("The email or password is wrong.", headers=BEARER)
    now = utcnow()
    return _open_session(
        session, settings, found[0], now, device_token or security.issue_device_token(settings, found[0], now)
    )


def check_password(session: Session, settings: Settings, email: str, password: str, client: str) -> uuid.UUID:
    """The account's id if ``password`` is its password, under the login rate limits (the
    OAuth2 consent page signs the athlete in this way); Unauthorized otherwise."""
    _limit(session, f"login:address:{client}", settings.login_limit_per_address, settings.login_window_s)
    found = session.exec(select(User.id, User.password_hash).where(User.email == normalise_email(email))).first()
    _limit(session, account_key(email), settings.login_limit_per_account, settings.login_window_s)
    if not security.verify_password(settings, password, found[1] if found else None) or found is None:
        raise Unauthorized("The email or password is wrong.", headers=BEARER)
    return found[0]


def open_app_session(
    session: Session,
    settings: Settings,
    user_id: uuid.UUID,
    client_id: uuid.UUID,
    scopes: list[str],
    now: datetime,
    login_id: uuid.UUID,
) -> s.TokenPair:
    """A login ``login_id`` of an OAuth2 app for the athlete, limited to ``scopes`` (what
    the athlete consented to), and its first pair. The caller's changes commit with it."""
    login = LoginSession(
        id=login_id, user_id=user_id, created_at=now, auth_time=now, client_id=client_id, scopes=sorted(scopes)
    )
    session.add(login)
    return _issue_pair(session, settings, login, now)


def _open_session(
    session: Session, settings: Settings, user_id: uuid.UUID, now: datetime, device_token: str
) -> s.TokenPair:
    """A new login session whose password was checked ``now``; the caller's changes
    commit with it."""
    login = LoginSession(id=uuid.uuid4(), user_id=user_id, created_at=now, auth_time=now)
    session.add(login)
    return _issue_pair(session, settings, login, now, device_token)


def _issue_pair(
    session: Session,
    settings: Settings,
    login: LoginSession,
    now: datetime,
    device_token: str | None = None,
    rotated: str | None = None,
) -> s.TokenPair:
    """A new pair in ``login``; commits. The pair that rotates the refresh token ``rotated``
    is derived from it (see security.derive), so :func:`_reissue_pair` can answer it again."""
    refresh = _successor(settings, rotated) if rotated else security.new_secret(security.REFRESH_PREFIX)
    session.add(
        RefreshToken(
            user_id=login.user_id,
            family_id=login.id,
            token_hash=security.token_digest(refresh),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    user_id, session_id, auth_time = login.user_id, login.id, login.auth_time
    scopes = None if login.scopes is None else frozenset(login.scopes)
    client_id = login.client_id
    session.commit()
    jti = security.derive(settings, "jti", rotated) if rotated else None
    access, ttl = security.issue_access_token(
        settings, user_id, session_id, auth_time, now, scopes=scopes, client_id=client_id, jti=jti
    )
    return _pair(settings, access, ttl, refresh, scopes, settings.refresh_token_ttl_s, device_token)


def _successor(settings: Settings, rotated: str) -> str:
    return security.REFRESH_PREFIX + security.derive(settings, "refresh", rotated)


def _pair(
    settings: Settings,
    access: str,
    expires_in: int,
    refresh: str,
    scopes: frozenset[str] | None,
    refresh_expires_in: int,
    device_token: str | None = None,
) -> s.TokenPair:
    return s.TokenPair(
        access_token=access,
        token_type="bearer",  # noqa: S106
        expires_in=expires_in,
        refresh_token=refresh,
        refresh_expires_in=refresh_expires_in,
        scope=" ".join(sorted(security.ALL_SCOPES if scopes is None else scopes)),
        device_token=device_token,
    )


def _reissue_pair(
    settings: Settings, login: LoginSession, rotated: str, rotated_at: datetime, now: datetime
) -> s.TokenPair:
    """The very pair that rotating ``rotated`` at ``rotated_at`` answered: same refresh
    token, same access token (same claims, same signature), its lifetimes counted down."""
    scopes = None if login.scopes is None else frozenset(login.scopes)
    access, ttl = security.issue_access_token(
        settings,
        login.user_id,
        login.id,
        login.auth_time,
        rotated_at,
        scopes=scopes,
        client_id=login.client_id,
        jti=security.derive(settings, "jti", rotated),
    )
    elapsed = int(now.timestamp()) - int(rotated_at.timestamp())
    return _pair(
        settings,
        access,
        max(ttl - elapsed, 0),
        _successor(settings, rotated),
        scopes,
        max(settings.refresh_token_ttl_s - elapsed, 0),
    )


# ---------------------------------------------------------------- refresh, logout, revocation


def _revoke(
    session: Session, now: datetime, *, family_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
) -> None:
    """Revoke one login session (``family_id``) or every session of ``user_id``: its
    refresh tokens and, through ``sid``, its access tokens. The caller commits."""
    tokens = col(RefreshToken.family_id) == family_id if family_id else col(RefreshToken.user_id) == user_id
    logins = col(LoginSession.id) == family_id if family_id else col(LoginSession.user_id) == user_id
    session.execute(update(RefreshToken).where(tokens, col(RefreshToken.revoked_at).is_(None)).values(revoked_at=now))
    session.execute(update(LoginSession).where(logins, col(LoginSession.revoked_at).is_(None)).values(revoked_at=now))


def refresh(session: Session, settings: Settings, token: str, client_id: uuid.UUID | None = None) -> s.TokenPair:
    """Rotate: the presented token is used up and a new pair issued in its login session.
    Presenting it again within ``refresh_grace_s`` of its rotation (a client that retried,
    or two requests racing) answers that same new pair. Presenting a used token later, or
    a revoked one, revokes the whole session, access tokens included (a stolen token was
    replayed). ``client_id`` is the OAuth2 app the token must belong to (None: first-party)."""
    now = utcnow()
    row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == security.token_digest(token))).first()
    login = session.get(LoginSession, row.family_id) if row is not None else None
    if row is None or login is None or login.client_id != client_id:
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
        # Read it again: a concurrent rotation may have committed since the first read.
        used_at, revoked_at = session.exec(
            select(RefreshToken.used_at, RefreshToken.revoked_at).where(RefreshToken.id == row.id)
        ).one()
        live = login.revoked_at is None and row.expires_at > now
        if (
            live
            and revoked_at is None
            and used_at is not None
            and now - used_at <= timedelta(seconds=settings.refresh_grace_s)
        ):
            session.rollback()
            return _reissue_pair(settings, login, token, used_at, now)
        _revoke(session, now, family_id=row.family_id)
        session.commit()
        raise Unauthorized("This refresh token was already used; its sessions are revoked.", headers=BEARER)
    if row.expires_at <= now or login.revoked_at is not None:
        session.rollback()
        raise Unauthorized("The refresh token has expired or its login has ended; log in again.", headers=BEARER)
    return _issue_pair(session, settings, login, now, rotated=token)


def revoke_app(session: Session, user_id: uuid.UUID, client_id: uuid.UUID) -> bool:
    """End every login of an OAuth2 app for the athlete (its refresh and access tokens) at
    once; whether there was one. Commits."""
    now = utcnow()
    logins = select(LoginSession.id).where(
        LoginSession.user_id == user_id, LoginSession.client_id == client_id, col(LoginSession.revoked_at).is_(None)
    )
    families = list(session.exec(logins).all())
    if not families:
        session.rollback()
        return False
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id).in_(families), col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    session.execute(update(LoginSession).where(col(LoginSession.id).in_(families)).values(revoked_at=now))
    session.commit()
    return True


def revoke_login(session: Session, login_id: uuid.UUID) -> None:
    """End one login (its refresh and access tokens) now. Commits."""
    _revoke(session, utcnow(), family_id=login_id)
    session.commit()


def logout(session: Session, token: str) -> None:
    """Revoke the refresh token's login session; unknown tokens are ignored."""
    row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == security.token_digest(token))).first()
    if row is not None:
        _revoke(session, utcnow(), family_id=row.family_id)
        session.commit()


def change_password(session: Session, settings: Settings, user_id: uuid.UUID, data: s.PasswordChange) -> s.TokenPair:
    """Check the current password (wrong guesses are limited like logins), store the new
    one, end every login session of the account and open a new one for the caller."""
    _check_password_length(settings, data.new_password, "new_password")
    _limit(session, f"password:user:{user_id}", settings.login_limit_per_account, settings.login_window_s)
    stored = session.exec(select(User.password_hash).where(User.id == user_id)).first()
    session.rollback()  # hold no lock while the hash is checked
    if stored is None:
        raise NotFound("No such account.")
    if not security.verify_password(settings, data.current_password, stored):
        raise Forbidden("The current password is wrong.")
    now = utcnow()
    session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(password_hash=security.hash_password(settings, data.new_password), updated_at=now)
    )
    _revoke(session, now, user_id=user_id)
    return _open_session(session, settings, user_id, now, security.issue_device_token(settings, user_id, now))
