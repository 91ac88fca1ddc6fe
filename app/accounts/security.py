"""Credentials: argon2id password hashes, JWT access tokens, opaque refresh and personal
tokens (stored only as SHA-256 hashes), and the scopes a token may carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import Settings

SCOPES: dict[str, str] = {
    "profile:read": "Read the account and athlete profile.",
    "profile:write": "Change the account and athlete profile.",
    "training:read": "Read the training log.",
    "training:write": "Record and change the training log.",
    "plans:read": "Read training plans.",
    "plans:write": "Create, adapt and archive training plans.",
}
ALL_SCOPES = frozenset(SCOPES)
READ_SCOPES = frozenset(s for s in SCOPES if s.endswith(":read"))

REFRESH_PREFIX = "rs_rt_"
PAT_PREFIX = "rs_pat_"
JWT_ALGORITHM = "HS256"


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHash:
    return PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))


def password_hasher(settings: Settings) -> PasswordHash:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib)


@lru_cache(maxsize=4)
def dummy_hash(time_cost: int, memory_kib: int) -> str:
    """A hash to verify against when the email is unknown, so both cases cost the same."""
    return _hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


def hash_password(settings: Settings, password: str) -> str:
    return password_hasher(settings).hash(password)


def verify_password(settings: Settings, password: str, stored: str | None) -> bool:
    """Verify ``password``; with no stored hash, burn the same time and return False."""
    hasher = password_hasher(settings)
    if stored is None:
        hasher.verify(password, dummy_hash(settings.argon2_time_cost, settings.argon2_memory_kib))
        return False
    return hasher.verify(password, stored)


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def derive(settings: Settings, purpose: str, token: str) -> str:
    """A secret only this server can compute from ``token`` (HMAC with the signing key): a
    rotated refresh token's successor is derived from it, so a retried rotation within the
    grace window can answer the very same pair without storing it."""
    mac = hmac.new(settings.secret_key.get_secret_value().encode(), f"{purpose}:{token}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    scopes: frozenset[str]
    expires_at: datetime
    client_id: str | None = None


def _sign(settings: Settings, claims: dict[str, object]) -> str:
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=JWT_ALGORITHM)


def _verify(settings: Settings, token: str, typ: str, required: list[str]) -> dict[str, object] | None:
    """The claims of a token of type ``typ`` signed with our key, or None when it is
    malformed, tampered with, expired, of another type or lacks a ``required`` claim."""
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp", "iat", "typ", *required]},
        )
    except jwt.PyJWTError:
        return None
    return claims if claims["typ"] == typ else None


def issue_access_token(
    settings: Settings,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    auth_time: datetime,
    now: datetime,
    *,
    scopes: frozenset[str] | None = None,
    client_id: uuid.UUID | None = None,
    jti: str | None = None,
) -> tuple[str, int]:
    """A JWT naming its login session (``sid``, checked on every request, so revoking the
    session ends the token), when the password was last checked (``auth_time``), its
    scopes (every scope for a first-party login) and, for an OAuth2 app, the app
    (``client_id``). The same arguments sign the same token."""
    ttl = settings.access_token_ttl_s
    issued = int(now.timestamp())
    claims: dict[str, object] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "auth_time": int(auth_time.timestamp()),
        "iat": issued,
        "exp": issued + ttl,
        "jti": jti or uuid.uuid4().hex,
        "typ": "access",
        "scope": " ".join(sorted(ALL_SCOPES if scopes is None else scopes)),
    }
    if client_id is not None:
        claims["client_id"] = str(client_id)
    return _sign(settings, claims), ttl


# Access tokens already verified, by (signing key, token): a client sends the same token
# with every request for its 15 minutes, and checking its signature and parsing its claims
# cost more than the rest of the lookup. Only tokens that verified are kept (so nobody can
# fill it without our key), each until its ``exp``; at most _VERIFIED_MAX, oldest first out.
_VERIFIED: dict[tuple[str, str], AccessClaims] = {}
_VERIFIED_MAX = 8192
_VERIFYING = threading.Lock()


def decode_access_token(settings: Settings, token: str) -> AccessClaims | None:
    """The token's claims, or None when it is malformed, tampered with, expired or was
    issued without a login session (before sessions were revocable)."""
    key = (settings.secret_key.get_secret_value(), token)
    known = _VERIFIED.get(key)
    if known is not None:
        if known.expires_at.timestamp() > time.time():
            return known
        with _VERIFYING:
            _VERIFIED.pop(key, None)
        return None
    claims = _verify(settings, token, "access", ["sid"])
    if claims is None:
        return None
    try:
        verified = AccessClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            session_id=uuid.UUID(str(claims["sid"])),
            scopes=frozenset(str(claims.get("scope", "")).split()) & ALL_SCOPES,
            expires_at=datetime.fromtimestamp(float(str(claims["exp"])), UTC),
            client_id=str(claims["client_id"]) if "client_id" in claims else None,
        )
    except ValueError:
        return None
    with _VERIFYING:  # on a miss only: the eviction and the insert as one step across threads
        while len(_VERIFIED) >= _VERIFIED_MAX:
            del _VERIFIED[next(iter(_VERIFIED))]
        _VERIFIED[key] = verified
    return verified


def issue_device_token(settings: Settings, user_id: uuid.UUID, now: datetime) -> str:
    """A signed note that this client once logged in to this account with its password:
    it lets the client past the per-account login lockout (see accounts.sessions.login)."""
    claims: dict[str, object] = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.device_token_ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "device",
    }
    return _sign(settings, claims)


def decode_device_token(settings: Settings, token: str) -> tuple[uuid.UUID, str] | None:
    """(account id, device id) of a valid device token, or None."""
    claims = _verify(settings, token, "device", ["jti"])
    if claims is None:
        return None
    try:
        return uuid.UUID(str(claims["sub"])), uuid.UUID(hex=str(claims["jti"])).hex
    except ValueError:
        return None
