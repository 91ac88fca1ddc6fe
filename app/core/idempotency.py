"""Idempotency keys for POST: a retry with the same key and body replays the stored
response; the same key with another body is a 422; the same key while the first request
still runs waits for it (see below). Keys are kept per user for at least 24 hours.

One unit of work: the work, then the key with its answer, are one transaction committed
once, so either all of it is stored or none, and a first attempt writes its key once (one
row, already ``done``). A retry runs its work too and finds the key answered: the work is
rolled back and the stored answer replayed. A concurrent duplicate waits for the first
to end (SQLite: for the write lock; PostgreSQL: on the key's unique index) and then
replays its response; had the first failed, the duplicate's own work stands. Releases
before 2026-12 claimed a key first (a ``running`` row) and stored the answer after; such
a claim, had one been committed, is taken over once its lease has ended.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import Column, ForeignKey, Uuid, bindparam, delete
from sqlmodel import Field, Session, SQLModel, col

from app.accounts.models import timestamp, utcnow
from app.catalogue.models import JSONType
from app.core.db import EncodedJson, table_of
from app.core.direct import Direct
from app.core.errors import Conflict, DomainError, FieldProblem
from app.core.media import json_answer, json_text

KEEP_FOR = timedelta(hours=24)
PURGE_EVERY_S = 60.0  # expired keys are deleted at most this often per process


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
    body: dict[str, Any] | None  # as stored, for a replay (None for a request that ran: its caller has it)
    headers: dict[str, str]
    replayed: bool = True


Work = Callable[[], tuple[int, dict[str, Any] | EncodedJson, dict[str, str]]]


def fingerprint(method: str, path: str, payload: BaseModel) -> str:
    """What a request sent, as a digest: a retry must send the same to be answered again.
    The body's JSON values with sorted keys, so neither the order of a body's fields nor
    that of a dict's keys matters. Workers of an earlier release compute the same digest,
    so a retry answered by either during a rolling deploy is replayed."""
    canonical = json.dumps(
        [method, path, payload.model_dump(mode="json")], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_last_purge = [float("-inf")]


def _purge(session: Session, now: datetime) -> None:
    """Delete every expired key, at most once a minute per process (an expired key that
    is still there is treated as absent by :func:`claim`, so this only keeps the table small)."""
    if time.monotonic() - _last_purge[0] < PURGE_EVERY_S:
        return
    _last_purge[0] = time.monotonic()
    session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < now - KEEP_FOR))


def _record(insert: Any) -> Any:
    """The key with its answer, one row: inserted, or written over an expired key's row (or
    a claim an earlier release left ``running`` past its lease); no row comes back when the
    key is someone's live answer. On PostgreSQL the insert waits for a concurrent
    transaction holding the same key, then sees what it committed."""
    table = table_of(IdempotencyKey)
    stmt = insert(table).values(**{name: bindparam(name) for name in _COLUMNS})
    return stmt.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.key],
        set_={name: getattr(stmt.excluded, name) for name in _COLUMNS if name not in ("user_id", "key")},
        where=(table.c.created_at < bindparam("expired_before"))
        | ((table.c.state == "running") & (table.c.lease_until <= bindparam("now"))),
    ).returning(table.c.key)


_COLUMNS = ("user_id", "key", "fingerprint", "state", "status_code", "body", "headers", "created_at", "lease_until")
_RECORD = Direct(_record)


def _settled(session: Session, user_id: uuid.UUID, key: str, print_: str) -> Stored | None:
    """What a key already stands for, read after this transaction is rolled back: its
    answer to replay (the transaction is over), or None where it stands for nothing (never
    used, or expired). The same key with another body is a 422; a claim an earlier release
    left ``running`` within its lease is a 409 to retry."""
    session.rollback()
    table = table_of(IdempotencyKey)
    row = session.execute(table.select().where(table.c.user_id == user_id, table.c.key == key)).first()
    session.rollback()
    now = utcnow()
    if row is None or row.created_at < now - KEEP_FOR:
        return None
    if row.fingerprint != print_:
        raise KeyReused()
    if row.state == "done":
        return Stored(row.status_code or 200, row.body, dict(row.headers))
    raise Conflict("A request with this Idempotency-Key is still being processed.", headers={"Retry-After": "1"})


def _recorded(
    session: Session,
    user_id: uuid.UUID,
    key: str,
    print_: str,
    code: int,
    body: dict[str, Any] | EncodedJson | None,
    headers: dict[str, str],
) -> bool:
    """Store the key with the work's answer in the work's transaction; False where the key
    is someone's live answer already (nothing stored)."""
    now = utcnow()
    _purge(session, now)
    row = {
        "user_id": user_id,
        "key": key,
        "fingerprint": print_,
        "state": "done",
        "status_code": code,
        "body": body,
        "headers": headers,
        "created_at": now,
        "lease_until": now,
        "now": now,
        "expired_before": now - KEEP_FOR,
    }
    return _RECORD.first(session, row) is not None


def run_once(session: Session, user_id: uuid.UUID, key: str | None, print_: str, work: Work) -> Stored:
    """Do ``work`` (which flushes, never commits) once per key: the work, then the key with
    its answer, in one transaction committed once. A retry's work is rolled back when the
    key turns out to be answered already (a replay, rare), so that a first attempt costs
    one statement for its key rather than a claim and then its answer. Work that fails
    gets the same check: a retry whose work would now fail (its record exists, say) is
    still answered as the first attempt was. Without a key the work simply runs and commits."""
    try:
        code, body, headers = work()
        recorded = key is None or _recorded(session, user_id, key, print_, code, body, headers)
        if recorded:
            session.commit()
    except Exception:
        if key is None:
            session.rollback()
            raise
        stored = _settled(session, user_id, key, print_)  # rolls the work back
        if stored is None:
            raise
        return stored
    except BaseException:
        session.rollback()
        raise
    if recorded:
        return Stored(code, None, headers, replayed=False)
    assert key is not None
    stored = _settled(session, user_id, key, print_)  # rolls the work back
    if stored is None:  # pragma: no cover - expired, or purged, between the two statements
        raise Conflict("A request with this Idempotency-Key is still being processed.", headers={"Retry-After": "1"})
    return stored


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
    payload: BaseModel,
    work: Rendered,
    *,
    never_kept: str | None = None,
    replayed: Transform | None = None,
) -> Response:
    """Run ``work`` (which flushes, never commits) once per Idempotency-Key of this user
    and ``scope``, and answer with its response; a retry gets the stored one back, marked
    ``Idempotent-Replayed: true``. ``never_kept`` names a field of the answer that is never
    kept (it is stored as null: a token, a signing secret, a link carrying a token), and
    ``replayed`` rebuilds the answer from what is kept (issuing the secret again)."""
    answer: dict[str, bytes] = {}

    def rendered() -> tuple[int, dict[str, Any] | EncodedJson, dict[str, str]]:
        code, public, headers = work()
        # Written once: the same text answers and, unless a field is never kept, is kept for a retry.
        answer["text"] = text = to_json(public)
        if never_kept:
            return code, {**public.model_dump(mode="json"), never_kept: None}, headers
        return code, EncodedJson(text.decode()), headers

    result = run_once(
        session,
        user_id,
        key,
        "" if key is None else fingerprint("POST", scope, payload),  # without a key, nothing to compare
        rendered,
    )
    if not result.replayed:
        return json_text(answer["text"], result.status_code, result.headers)
    # Written by the same serialiser as the first answer: the same text where the column kept
    # the keys' order (SQLite's JSON does; PostgreSQL's JSONB orders them its own way).
    body = replayed(result.body or {}) if replayed else result.body
    return json_answer(body, result.status_code, {**result.headers, REPLAYED_HEADER: "true"})
