"""Feed links: each grants one resource of one athlete, until it expires or is revoked."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Uuid
from sqlmodel import Field, SQLModel

from app.accounts.models import owner_fk, timestamp


class Feed(SQLModel, table=True):
    """``owner_id`` made it (their access to the athlete is checked at every use); the
    token is stored only as its SHA-256 hash, like personal access tokens."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = owner_fk()
    athlete_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    resource: str = Field(max_length=20)
    plan_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("plan.id", ondelete="CASCADE"), nullable=True, index=True)
    )
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=20)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    last_used_at: datetime | None = timestamp(nullable=True)
