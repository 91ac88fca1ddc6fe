"""Request and response shapes for webhook subscriptions, deliveries and event payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from app.core.schemas import INSTANT_SCHEMA, UUID_SCHEMA, InputModel, NoNulStr, VisibleStr, WritableBack

RECORD_KINDS = ("workout", "run", "checkin", "test")
EventType = Literal[
    "workout.created",
    "workout.updated",
    "workout.deleted",
    "run.created",
    "run.updated",
    "run.deleted",
    "checkin.created",
    "checkin.updated",
    "checkin.deleted",
    "test.created",
    "test.updated",
    "test.deleted",
    "plan.created",
    "plan.adapted",
]
Url = NoNulStr


class SubscriptionCreate(InputModel):
    url: Url = Field(
        min_length=8,
        max_length=2000,
        description="Where events are POSTed: an http(s) URL (https in production).",
        examples=["https://coach.example.com/hooks/runstrong"],
    )
    event_types: list[EventType] = Field(
        min_length=1, max_length=14, description="The events to send; each needs its kind's read scope."
    )
    description: VisibleStr | None = Field(default=None, max_length=200, description="What it is for.")


class SubscriptionUpdate(WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = {
        "id": UUID_SCHEMA,
        "scopes": {"type": "array", "items": {"type": "string"}},
        "created_at": INSTANT_SCHEMA,
        "updated_at": INSTANT_SCHEMA,
    }

    url: Url | None = Field(default=None, min_length=8, max_length=2000, description="A new URL.")
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=14, description="New events.")
    description: VisibleStr | None = Field(default=None, max_length=200, description="What it is for.")
    active: bool | None = Field(
        default=None,
        description="false pauses it: events meanwhile are not sent, deliveries already queued wait for true.",
    )


class SubscriptionPublic(BaseModel):
    id: uuid.UUID = Field(description="The subscription's id.")
    url: str = Field(description="Where events are POSTed.")
    description: str | None = Field(description="What it is for.")
    event_types: list[str] = Field(description="The events sent.")
    scopes: list[str] = Field(
        description="Read scopes of the credential that made it: events outside them are not sent."
    )
    active: bool = Field(description="Whether events are sent.")
    created_at: datetime = Field(description="When it was made.")
    updated_at: datetime = Field(description="When it last changed.")


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(
        description="The signing secret (`whsec_...`). Shown only now (and on rotation): store it to verify "
        "signatures with any Standard Webhooks library."
    )


class DeliveryPublic(BaseModel):
    id: uuid.UUID = Field(description="The delivery's id, sent as `webhook-id` (the same on every attempt).")
    event_type: str = Field(description="The event sent.")
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending: not yet answered with 2xx (retrying); delivered; failed: retries spent."
    )
    attempts: int = Field(description="Attempts so far.")
    response_code: int | None = Field(description="The HTTP status of the last attempt (none: no answer).")
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    created_at: datetime = Field(description="When the event was queued for this subscription.")
    last_attempt_at: datetime | None = Field(description="When it was last tried.")
    next_attempt_at: datetime | None = Field(description="When it will be tried next (pending only).")
    delivered_at: datetime | None = Field(description="When the receiver accepted it.")
    payload: dict[str, Any] = Field(description="The JSON body sent.")


class EventData(BaseModel):
    athlete_id: uuid.UUID = Field(description="Whose record changed.")
    id: uuid.UUID = Field(description="The record's (or plan's) id.")
    url: str = Field(description="Where to read it with your token (nothing is read for a deletion).")
    version: int | None = Field(default=None, description="The record's version after the change (records).")
    kind: str | None = Field(default=None, description="The plan's kind (plan.created).")
    week: int | None = Field(default=None, description="The week judged (plan.adapted).")
    decision: str | None = Field(default=None, description="What was decided (plan.adapted).")


class EventPayload(BaseModel):
    """The body of every delivery (Standard Webhooks' `type`, `timestamp`, `data`)."""

    type: EventType = Field(description="What happened.")
    timestamp: datetime = Field(description="When it happened.")
    data: EventData = Field(description="What it happened to: fetch the record with your token for its content.")
