"""Stored plans: the plan as generated (JSON), its sessions as rows (so workouts can link
to them), and each week's adaptation decision."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Column, ForeignKey, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from app.accounts.models import owner_fk, timestamp
from app.catalogue.models import JSONType
from app.core.ids import new_id


class Plan(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    athlete_id: uuid.UUID = owner_fk()
    kind: str = Field(max_length=20)
    protocol: str = Field(max_length=80)
    status: str = Field(default="active", max_length=10, index=True)
    start_date: dt.date
    draft: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    profile: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    baseline_pain: int = 0
    # Staged plans: {"current": state, "weeks": {"<n>": the state week n was laid out from}}.
    state: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    created_at: dt.datetime = timestamp()
    updated_at: dt.datetime = timestamp()


class PlanSession(SQLModel, table=True):
    __tablename__ = "plan_session"

    id: uuid.UUID = Field(primary_key=True)
    plan_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("plan.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    week: int
    day: dt.date


class PlanAdaptation(SQLModel, table=True):
    __tablename__ = "plan_adaptation"
    __table_args__ = (UniqueConstraint("plan_id", "week"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    plan_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("plan.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    week: int
    decision: str = Field(max_length=10)
    rule: str = Field(max_length=60)
    reasons: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    criterion: str | None = Field(default=None, max_length=60)
    from_stage: str | None = Field(default=None, max_length=80)
    to_stage: str | None = Field(default=None, max_length=80)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    created_at: dt.datetime = timestamp()
