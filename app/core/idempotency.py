"""Idempotency keys for POST: a retry with the same key and body replays the stored
response; the same key with another body is a 422; the same key while the first request
still runs waits for it (see below). Keys are kept per user for at least 24 hours.

One unit of work: the claim, the work and its stored response are one transaction,
committed once, so either all of it is stored or none. A concurrent duplicate waits for
the first to end (SQLite: for the write lock; PostgreSQL: on the key's unique index) and
then replays its response; had the first failed, the duplicate runs the work itself. A
claim left ``running`` (by work that committed part-way and then died) holds only until
its lease ends; then a retry takes it over.
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
from sqlalchemy import Column, ForeignKey, Uuid, bindparam, delete, update
from sqlmodel import Field, Session, SQLModel, col

from app.accounts.models import timestamp, utcnow
from app.catalogue.models import JSONType
from app.core.db import EncodedJson, table_of
from app.core.direct import Direct
from app.core.errors import Conflict, DomainError, FieldProblem
from app.core.media import json_answer, json_text
from app.core.redo import Outdated, redoing

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


_KEY_COLUMNS = ("user_id", "key", "fingerprint", "state", "status_code", "body", "headers", "created_at", "lease_until")


def _unless_there(insert: Any) -> Any:
    """A key's row inserted, unless the user's key is there already."""
    table = table_of(IdempotencyKey)
    return (
        insert(table)
        .values(**{name: bindparam(name) for name in _KEY_COLUMNS})
        .on_conflict_do_nothing(index_elements=[table.c.user_id, table.c.key])
    )


def _claim(insert: Any) -> Any:
    return _unless_there(insert).returning(table_of(IdempotencyKey).c.key)


_CLAIM = Direct(_claim)


def claim(session: Session, user_id: uuid.UUID, key: str, print_: str, lease: timedelta) -> Stored | None:
    """Claim ``key`` in the caller's transaction (not committed: the work and its response
    join it), or return the stored response to replay."""
    now = utcnow()
    _purge(session, now)
    table = table_of(IdempotencyKey)
    claimed: dict[str, Any] = {
        "fingerprint": print_,
        "state": "running",
        "status_code": None,
        "body": None,
        "headers": {},
        "created_at": now,
        "lease_until": now + lease,
    }
    taken = _CLAIM.first(session, {"user_id": user_id, "key": key, **claimed})
    if taken is not None:
        return None
    # Committed by an earlier request (a concurrent one has ended by now: its insert held us).
    row = session.execute(
        table.select().where(table.c.user_id == user_id, table.c.key == key).with_for_update()
    ).first()
    if row is None:  # pragma: no cover - deleted (expired) between the two statements
        raise Conflict("A request with this Idempotency-Key is still being processed.", headers={"Retry-After": "1"})
    if row.created_at < now - KEEP_FOR:  # expired, not yet purged: as if never used
        session.execute(update(table).where(table.c.user_id == user_id, table.c.key == key).values(**claimed))
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
    # The first attempt committed its claim and died: take the claim over.
    session.execute(update(table).where(table.c.user_id == user_id, table.c.key == key).values(lease_until=now + lease))
    return None


_KEYS = table_of(IdempotencyKey).c
_COMPLETE = Direct(
    update(table_of(IdempotencyKey))
    .where(_KEYS.user_id == bindparam("id"), _KEYS.key == bindparam("k"))
    .values(state="done", status_code=bindparam("status_code"), body=bindparam("body"), headers=bindparam("headers"))
)


def complete(
    session: Session,
    user_id: uuid.UUID,
    key: str,
    status_code: int,
    body: dict[str, Any] | EncodedJson | None,
    headers: dict[str, str],
) -> None:
    """Store the response; the caller commits it together with the work (on PostgreSQL it
    goes with the work's last writes, ``app.core.batched``)."""
    _COMPLETE.later(
        session,
        {"id": user_id, "k": key, "status_code": status_code, "body": body, "headers": headers},
        lost=_claim_lost,
    )


def _claim_lost() -> Conflict:  # pragma: no cover - the claim is ours
    return Conflict("The Idempotency-Key claim was lost; retry the request.")


class _Taken(Exception):
    """The key was there when the answer was inserted with the work (:func:`_stored_with_work`)."""


_DONE = Direct(_unless_there)


def _stored_with_work(session: Session, user_id: uuid.UUID, key: str, print_: str, work: Work) -> Stored:
    """On PostgreSQL, where a write's last statements go together (``app.core.batched``),
    the key is not claimed before the work: its answer is inserted, done, in the work's
    last statement, if the key is not there. A key that is there (a retry's, or one a
    running request holds: its insert waits for that request's end) makes the insert
    change nothing and raises ``_Taken`` at the commit; the caller rolls the work back and
    claims the key as on any database (:func:`claim`), which replays, refuses or takes
    over; so does a work that fails (a retry's may fail because its first run stored
    what it did). A first request saves the claim's round trip; a retry's work, or a
    failed one's, is done once more and undone. Two requests with one key in flight at
    once: the first to commit keeps the key (with a claim first, the first to claim)."""
    now = utcnow()
    _purge(session, now)
    with redoing(session):
        code, body, headers = work()
    done = {"state": "done", "status_code": code, "body": body, "headers": headers}
    _DONE.later(
        session,
        {"user_id": user_id, "key": key, "fingerprint": print_, "created_at": now, "lease_until": now, **done},
        lost=_Taken,
    )
    session.commit()
    return Stored(code, None, headers, replayed=False)


def run_once(
    session: Session, user_id: uuid.UUID, key: str | None, print_: str, lease: timedelta, work: Work
) -> Stored:
    """Do ``work`` (which flushes, not commits) once per key, in one transaction with the
    claim and its stored response, committed once; a retry gets that response back.
    Without a key the work simply runs and commits. Either way the work may use copies
    (``app.core.redo``) the first time it runs; if one was outdated it is undone and done
    again without them."""
    if key is not None and _DONE.queues(session):
        try:
            return _stored_with_work(session, user_id, key, print_, work)
        except Exception:
            # The key was there, or the work failed (refused by a check of its own or the
            # database's, which a retry's may be because its first run stored what it did,
            # a copy it used was outdated, or any other error): undone, then as on any
            # database: replayed, refused, or run again after a claim, failing as it fails.
            session.rollback()
        except BaseException:
            session.rollback()
            raise
    elif key is None:
        try:
            with redoing(session):
                code, body, headers = work()
            session.commit()
            return Stored(code, None, headers, replayed=False)
        except Outdated:
            session.rollback()  # then done again below, reading what it needs
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
    return Stored(code, None, headers, replayed=False)


def release(session: Session, user_id: uuid.UUID, key: str) -> None:
    """Give the claim up after a failed request, so a corrected retry can run: the rollback
    takes it back, unless the work committed part-way (then it is deleted)."""
    session.rollback()
    if session.get(IdempotencyKey, (user_id, key)) is None:
        session.rollback()
        return
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
        timedelta(seconds=request.app.state.settings.idempotency_lease_s),
        rendered,
    )
    if not result.replayed:
        return json_text(answer["text"], result.status_code, result.headers)
    # Written by the same serialiser as the first answer: the same text where the column kept
    # the keys' order (SQLite's JSON does; PostgreSQL's JSONB orders them its own way).
    body = replayed(result.body or {}) if replayed else result.body
    return json_answer(body, result.status_code, {**result.headers, REPLAYED_HEADER: "true"})
