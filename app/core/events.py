"""The event seam: a change and its event are written in one transaction (an outbox).

The record layer calls :func:`emit` beside the change it makes. That does two things, both
inside the caller's transaction:

* it writes an ``outbox_event`` row, which a dispatcher (``runstrong worker``, or the one
  ``runstrong serve`` runs) reads after commit and delivers (webhooks). A rolled-back change
  leaves no event; a committed one always has its event;
* it calls the in-process subscribers registered for the event's type (:func:`subscribe`), so
  another package reacts in the same transaction (plans adapt to a logged workout) without
  the package that emits knowing it exists.

:func:`check` is the same idea before a change: packages register checks on a kind of input
(plans check that a workout's ``planned_session_id`` is one of the athlete's own sessions).

Core knows no domain: event types are plain strings (``workout.created``), named by whoever
emits them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Uuid, bindparam, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Session, SQLModel

from app.core.db import UTCDateTime, table_of
from app.core.direct import Direct

EventId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite numbers rows only with INTEGER


class OutboxEvent(SQLModel, table=True):
    """One event, in commit order per writer; ``dispatched_at`` is set once fanned out."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "dispatched_at", "id"),)

    id: int | None = Field(default=None, sa_column=Column(EventId, primary_key=True, autoincrement=True))
    type: str = Field(max_length=40)
    athlete_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    subject_id: uuid.UUID
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON().with_variant(JSONB(), "postgresql"), nullable=False)
    )
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    dispatched_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


@dataclass(frozen=True, slots=True)
class Event:
    """What in-process subscribers receive."""

    type: str
    athlete_id: uuid.UUID
    subject_id: uuid.UUID
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Session, Event], None]
Check = Callable[[Session, uuid.UUID, dict[str, Any]], None]

_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
_checks: dict[str, list[Check]] = defaultdict(list)


def subscribe(event_type: str, subscriber: Subscriber) -> None:
    """Call ``subscriber`` in the emitting transaction for every event of ``event_type``
    (registering the same function twice keeps one)."""
    if subscriber not in _subscribers[event_type]:
        _subscribers[event_type].append(subscriber)


def add_check(subject: str, check: Check) -> None:
    """Run ``check(session, athlete_id, fields)`` on every input of ``subject`` before it is stored;
    it raises a domain error to refuse it."""
    if check not in _checks[subject]:
        _checks[subject].append(check)


def check(session: Session, subject: str, athlete_id: uuid.UUID, fields: dict[str, Any]) -> None:
    for each in _checks.get(subject, ()):
        each(session, athlete_id, fields)


# Built once, run on the driver (core.direct): an outbox row per change, written with every write.
_EMIT = Direct(
    insert(table_of(OutboxEvent)).values(
        **{name: bindparam(name) for name in ("type", "athlete_id", "subject_id", "data", "occurred_at")}
    )
)


def emit(session: Session, event_type: str, athlete_id: uuid.UUID, subject_id: uuid.UUID, data: dict[str, Any]) -> None:
    """Record the event in the caller's transaction (flushed, not committed), then run the
    in-process subscribers. One INSERT: the dispatcher does the rest after commit."""
    _EMIT.later(
        session,
        {
            "type": event_type,
            "athlete_id": athlete_id,
            "subject_id": subject_id,
            "data": data,
            "occurred_at": datetime.now(UTC),
        },
    )
    subscribers = _subscribers.get(event_type)
    if subscribers:
        event = Event(event_type, athlete_id, subject_id, data)
        for subscriber in subscribers:
            subscriber(session, event)
