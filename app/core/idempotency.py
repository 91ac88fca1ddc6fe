"""Idempotency keys for POST: a retry with the same key and body replays the stored
response; the same key with another body is a 422; the same key while the first request
still runs is a 409. Keys are kept per user for at least 24 hours.

The key is claimed in a short transaction of its own, so a concurrent duplicate sees the
claim at once. The response is stored by :func:`complete` in the *same* transaction as
the work it describes, so either both are committed or neither. A claim whose process
died holds only until its lease ends; then a retry takes it over.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Column, ForeignKey, Uuid, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

from app.accounts.models import timestamp, utcnow
from app.catalogue.models import JSONType
from app.core.errors import Conflict, DomainError, FieldProblem

KEEP_FOR = timedelta(hours=24)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"

    user_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, nullable=False)
    )
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=10)
    status_code: int | None = None
    body: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    headers: dict[str, str] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    created_at: datetime = timestamp(index=True)
    lease_until: datetime = timestamp()


class KeyReused(DomainError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "idempotency-key-reused"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used with a different request body.")
        self.errors = [
            FieldProblem(name="Idempotency-Key", location="header", detail="used with another body", type="key_reused")
        ]


@dataclass(frozen=True, slots=True)
class Stored:
    status_code: int
    body: dict[str, Any] | None
    headers: dict[str, str]
    replayed: bool = True


Work = Callable[[], tuple[int, dict[str, Any], dict[str, str]]]


def fingerprint(method: str, path: str, payload: Any) -> str:
    canonical = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(session: Session, user_id: uuid.UUID, key: str, print_: str, lease: timedelta) -> Stored | None:
    """Claim ``key`` (and commit), or return the stored response to replay."""
    now = utcnow()
    session.execute(
        delete(IdempotencyKey).where(
            col(IdempotencyKey.user_id) == user_id, col(IdempotencyKey.created_at) < now - KEEP_FOR
        )
    )
    row = session.get(IdempotencyKey, (user_id, key))
    if row is None:
        session.add(
            IdempotencyKey(
                user_id=user_id, key=key, fingerprint=print_, state="running", created_at=now, lease_until=now + lease
            )
        )
        try:
            session.commit()
        except IntegrityError:  # a concurrent request claimed it first
            session.rollback()
            raise Conflict(
                "A request with this Idempotency-Key is still being processed.", headers={"Retry-After": "1"}
            ) from None
        return None
    if row.fingerprint != print_:
        session.rollback()
        raise KeyReused()
    if row.state == "done":
        stored = Stored(row.status_code or 200, row.body, dict(row.headers))
        session.rollback()
        return stored
    if row.lease_until > now:
        session.rollback()
        raise Conflict("A request with this Idempotency-Key is still being processed.", headers={"Retry-After": "1"})
    row.lease_until = now + lease  # the first attempt died: take its claim over
    session.commit()
    return None


def complete(
    session: Session,
    user_id: uuid.UUID,
    key: str,
    status_code: int,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    """Store the response; the caller commits it together with the work."""
    row = session.get(IdempotencyKey, (user_id, key))
    if row is None:  # pragma: no cover - the claim is ours until committed
        raise Conflict("The Idempotency-Key claim was lost; retry the request.")
    row.state, row.status_code, row.body, row.headers = "done", status_code, body, headers


def run_once(
    session: Session, user_id: uuid.UUID, key: str | None, print_: str, lease: timedelta, work: Work
) -> Stored:
    """Do ``work`` (which flushes, not commits) once per key: its response is committed in
    the same transaction as its writes, and a retry gets that response back. Without a
    key the work simply runs and commits."""
    if key is not None and (stored := claim(session, user_id, key, print_, lease)) is not None:
        return stored
    try:
        code, body, headers = work()
        if key is not None:
            complete(session, user_id, key, code, body, headers)
        session.commit()
    except BaseException:
        if key is not None:
            release(session, user_id, key)
        raise
    return Stored(code, body, headers, replayed=False)


def release(session: Session, user_id: uuid.UUID, key: str) -> None:
    """Give the claim up after a failed request, so a corrected retry can run."""
    session.rollback()
    session.execute(
        delete(IdempotencyKey).where(
            col(IdempotencyKey.user_id) == user_id,
            col(IdempotencyKey.key) == key,
            col(IdempotencyKey.state) == "running",
        )
    )
    session.commit()


# ---------------------------------------------------------------- routes

# The request header every creating POST accepts (declared once, so all of them read alike).
KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="A unique string (a UUID is ideal); a retry with the same key and body replays the "
        "first response (with `Idempotent-Replayed: true`) instead of creating again. Kept for 24 hours.",
        examples=["5f0c6f1e-8a57-4c1b-9f0e-6f3b2d1f7a10"],
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"

Rendered = Callable[[], tuple[int, BaseModel, dict[str, str]]]
Transform = Callable[[dict[str, Any]], dict[str, Any]]


def respond_once(
    request: Request,
    session: Session,
    user_id: uuid.UUID,
    key: str | None,
    scope: str,
    payload: Any,
    work: Rendered,
    *,
    stored: Transform | None = None,
    replayed: Transform | None = None,
) -> JSONResponse:
    """Run ``work`` (which flushes, never commits) once per Idempotency-Key of this user
    and ``scope``, and answer with its response; a retry gets the stored one back, marked
    ``Idempotent-Replayed: true``. ``stored`` shapes the body kept for replays (to keep a
    secret out of the table) and ``replayed`` rebuilds the answer from it."""
    answer: dict[str, Any] = {}

    def rendered() -> tuple[int, dict[str, Any], dict[str, str]]:
        code, public, headers = work()
        answer["body"] = public.model_dump(mode="json")
        return code, stored(answer["body"]) if stored else answer["body"], headers

    result = run_once(
        session,
        user_id,
        key,
        fingerprint("POST", scope, payload),
        timedelta(seconds=request.app.state.settings.idempotency_lease_s),
        rendered,
    )
    if not result.replayed:
        return JSONResponse(answer["body"], result.status_code, result.headers)
    body = replayed(result.body or {}) if replayed else result.body
    return JSONResponse(body, result.status_code, {**result.headers, REPLAYED_HEADER: "true"})
