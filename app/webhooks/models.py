"""Webhook subscriptions and their deliveries (one per event per subscription)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from app.accounts.models import owner_fk, timestamp
from app.catalogue.models import JSONType
from app.core.events import EventId
from app.core.ids import new_id


class WebhookSubscription(SQLModel, table=True):
    """A URL subscribed to event types. ``owner_id`` is the user whose own records and coach
    grants bound what is sent, ``scopes`` the read scopes of the credential that made it. An
    OAuth application owns subscriptions too (``app_id``; the athlete's consent bounds them
    then); one made with a personal access token ends with it (``token_id``)."""

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = owner_fk()
    app_id: uuid.UUID | None = Field(default=None, index=True)
    # The personal access token that made it: revoking the token deletes the subscription.
    token_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("personal_access_token.id", ondelete="CASCADE"), nullable=True, index=True),
    )
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=200)
    event_types: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    scopes: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    secret: str = Field(max_length=100)  # kept to sign with (it cannot be a hash)
    active: bool = True
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: pending until its receiver answers 2xx, retried on a
    schedule, failed once the schedule is spent. ``leased_until`` and ``lease_id`` mark the
    worker delivering it; a lease that runs out (a killed worker) lets another retake it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_log", "subscription_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    subscription_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("webhook_subscription.id", ondelete="CASCADE"), nullable=False)
    )
    event_id: int = Field(sa_column=Column(EventId, nullable=False))
    event_type: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    next_attempt_at: datetime | None = timestamp(nullable=True)
    leased_until: datetime | None = timestamp(nullable=True)
    lease_id: uuid.UUID | None = None
    response_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = timestamp()
    last_attempt_at: datetime | None = timestamp(nullable=True)
    delivered_at: datetime | None = timestamp(nullable=True)
