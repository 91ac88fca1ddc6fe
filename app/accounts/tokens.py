"""Personal access tokens: long-lived, scoped credentials for coaching tools, stored
only as SHA-256 hashes. Minting one needs a recent login (see service.require_recent_login)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session, col, select

from app.accounts import schemas as s
from app.accounts import security
from app.accounts.models import PersonalAccessToken, utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, page_rows


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
    session.flush()  # the caller commits, with the Idempotency-Key's stored answer
    session.refresh(pat)
    return s.TokenCreated.model_validate({**pat.model_dump(), "token": secret})


def reissue_secret(session: Session, user_id: uuid.UUID, token_id: uuid.UUID) -> s.TokenCreated:
    """A new secret for a token whose creation is being retried: the secret is never stored,
    so the retry cannot be shown the first one; the first one stops working (the client
    that retried never received it)."""
    pat = session.get(PersonalAccessToken, token_id)
    if pat is None or pat.user_id != user_id:
        raise Conflict("The token created with this Idempotency-Key has been revoked; create one with a new key.")
    secret = security.new_secret(security.PAT_PREFIX)
    pat.prefix = secret[: len(security.PAT_PREFIX) + 6]
    pat.token_hash = security.token_digest(secret)
    session.flush()
    created = s.TokenCreated.model_validate({**pat.model_dump(), "token": secret})
    session.commit()
    return created


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
