"""Training-log tables. Every record belongs to an athlete (ON DELETE CASCADE from the
user), carries a version for ETags, and each change is tracked for the sync feed."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from app.accounts.models import owner_fk, timestamp
from app.catalogue.models import JSONType
from app.core.ids import new_id


class Workout(SQLModel, table=True):
    __table_args__ = (Index("ix_workout_athlete_started", "athlete_id", "started_at", "id"),)

    id: uuid.UUID = Field(primary_key=True)
    athlete_id: uuid.UUID = owner_fk(index=False)
    started_at: datetime = timestamp()
    utc_offset_minutes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # as sent; answered so
    duration_seconds: int
    planned_session_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("plan_session.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    session_rpe: float | None = None
    pain_during: int | None = None
    pain_site: str | None = Field(default=None, max_length=60)
    notes: str | None = None
    version: int = 1
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class WorkoutSet(SQLModel, table=True):
    __tablename__ = "workout_set"
    __table_args__ = (UniqueConstraint("workout_id", "position"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    workout_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("workout.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    position: int
    # RESTRICT: a catalogue refresh may never delete an exercise someone has logged.
    exercise_slug: str = Field(
        sa_column=Column(String(80), ForeignKey("exercise.slug", ondelete="RESTRICT"), nullable=False, index=True)
    )
    side: str = Field(max_length=5)
    reps: int | None = None
    hold_seconds: int | None = None
    load_kg: float = 0.0
    tempo: str | None = Field(default=None, max_length=20)
    rpe: float | None = None
    rir: int | None = None
    completed: bool = True


class Run(SQLModel, table=True):
    __table_args__ = (Index("ix_run_athlete_started", "athlete_id", "started_at", "id"),)

    id: uuid.UUID = Field(primary_key=True)
    athlete_id: uuid.UUID = owner_fk(index=False)
    started_at: datetime = timestamp()
    utc_offset_minutes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # as sent; answered so
    distance_km: float
    duration_seconds: int
    session_rpe: float | None = None
    type: str = Field(max_length=20)
    surface: str | None = Field(default=None, max_length=20)
    pain_during: int | None = None
    pain_site: str | None = Field(default=None, max_length=60)
    notes: str | None = None
    source: str = Field(default="manual", max_length=10)
    version: int = 1
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class CheckIn(SQLModel, table=True):
    __tablename__ = "checkin"
    __table_args__ = (Index("ix_checkin_athlete_date", "athlete_id", "date", "id"),)

    id: uuid.UUID = Field(primary_key=True)
    athlete_id: uuid.UUID = owner_fk(index=False)
    date: dt.date
    sites: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    visa_a: int | None = None
    notes: str | None = None
    version: int = 1
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class ClinicalTest(SQLModel, table=True):
    """A clinical test the return-to-run gates read: single-leg heel raises or hops."""

    __tablename__ = "clinical_test"
    __table_args__ = (Index("ix_clinical_test_athlete_date", "athlete_id", "date", "id"),)

    id: uuid.UUID = Field(primary_key=True)
    athlete_id: uuid.UUID = owner_fk(index=False)
    date: dt.date
    test: str = Field(max_length=20)
    measure: str = Field(max_length=20)
    left: float | None = None
    right: float | None = None
    affected_side: str | None = Field(default=None, max_length=5)
    pain: int | None = None
    notes: str | None = None
    version: int = 1
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class SyncCounter(SQLModel, table=True):
    """The athlete's last change number; bumping it locks the row until commit, so an
    athlete's change numbers become visible in the order they were committed."""

    __tablename__ = "sync_counter"

    athlete_id: uuid.UUID = owner_fk(primary_key=True)
    last_seq: int


class Change(SQLModel, table=True):
    """The latest change of each record (compacted); deletions stay as tombstones."""

    __table_args__ = (Index("ix_change_athlete_seq", "athlete_id", "seq", unique=True),)

    athlete_id: uuid.UUID = owner_fk(primary_key=True)
    entity: str = Field(primary_key=True, max_length=20)
    entity_id: uuid.UUID = Field(primary_key=True)
    seq: int
    op: str = Field(max_length=10)
    version: int
    changed_at: datetime = timestamp()
