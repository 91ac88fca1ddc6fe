"""Catalogue tables. Scalar fields that lists filter on are columns; relations used in
filters are link tables; descriptive lists (steps, synonyms, sources...) are JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

import app.core.db  # noqa: F401  (sets the constraint naming convention before tables exist)

JSONType = JSON().with_variant(JSONB(), "postgresql")


def json_list() -> Any:
    return Field(default_factory=list, sa_type=JSONType, nullable=False)


def slug_fk(target: str, *, primary_key: bool = False, nullable: bool = False) -> Any:
    """A slug column referencing ``target`` (``table.slug``); link rows go with their owner."""
    return Field(
        sa_column=Column(
            String(80),
            ForeignKey(target, ondelete="CASCADE"),
            primary_key=primary_key,
            nullable=nullable,
            index=not primary_key,
        )
    )


class Source(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=80)
    kind: str = Field(max_length=20)
    title: str
    citation: str
    file: str | None = None
    evidence_section: str | None = Field(default=None, max_length=40)


class Muscle(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=80)
    position: int = Field(index=True)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=10, index=True)
    group_slug: str | None = slug_fk("muscle.slug", nullable=True)
    body_region: str = Field(max_length=20, index=True)
    description: str
    key_for_achilles: bool = Field(default=False, index=True)
    search_text: str
    synonyms: list[str] = json_list()
    actions: list[str] = json_list()
    weakness_effects: list[str] = json_list()
    tightness_effects: list[str] = json_list()
    sources: list[str] = json_list()


class RunningPhase(SQLModel, table=True):
    __tablename__ = "running_phase"

    slug: str = Field(primary_key=True, max_length=80)
    position: int = Field(index=True)
    name: str = Field(max_length=120)
    part_of: str = Field(max_length=10)
    description: str
    synonyms: list[str] = json_list()
    sources: list[str] = json_list()


class MusclePhase(SQLModel, table=True):
    """What a muscle does in one running phase."""

    __tablename__ = "muscle_phase"

    muscle_slug: str = slug_fk("muscle.slug", primary_key=True)
    phase_slug: str = slug_fk("running_phase.slug", primary_key=True)
    role: str


class Structure(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=80)
    position: int
    name: str = Field(max_length=120)
    kind: str = Field(max_length=20)
    body_region: str = Field(max_length=20)
    description: str
    function: str
    attaches_to: str | None = None
    muscles: list[str] = json_list()
    synonyms: list[str] = json_list()
    facts: list[str] = json_list()
    loads: list[dict[str, Any]] = json_list()
    sources: list[str] = json_list()


class Equipment(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=80)
    name: str = Field(max_length=120, index=True)
    description: str
    synonyms: list[str] = json_list()
    sources: list[str] = json_list()


class Exercise(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=80)
    name: str = Field(max_length=120, index=True)
    summary: str
    loading_type: str = Field(max_length=20, index=True)
    level: str = Field(max_length=20, index=True)
    laterality: str = Field(max_length=20, index=True)
    needs_equipment: bool = Field(index=True)
    achilles_tier: int | None = Field(default=None, index=True)
    achilles_body_weights: float | None = None
    achilles_sources: list[str] = json_list()
    search_text: str
    synonyms: list[str] = json_list()
    steps: list[str] = json_list()
    dose: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    cautions: list[str] = json_list()
    sources: list[str] = json_list()


class ExerciseMuscle(SQLModel, table=True):
    __tablename__ = "exercise_muscle"

    exercise_slug: str = slug_fk("exercise.slug", primary_key=True)
    muscle_slug: str = slug_fk("muscle.slug", primary_key=True)
    role: str = Field(max_length=10)


class ExerciseEquipment(SQLModel, table=True):
    __tablename__ = "exercise_equipment"

    exercise_slug: str = slug_fk("exercise.slug", primary_key=True)
    equipment_slug: str = slug_fk("equipment.slug", primary_key=True)


class Injury(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=80)
    name: str = Field(max_length=120, index=True)
    parent_slug: str | None = slug_fk("injury.slug", nullable=True)
    body_region: str = Field(max_length=20)
    description: str
    search_text: str
    structures: list[str] = json_list()
    synonyms: list[str] = json_list()
    notes: list[str] = json_list()
    sources: list[str] = json_list()


class InjuryMuscle(SQLModel, table=True):
    __tablename__ = "injury_muscle"

    injury_slug: str = slug_fk("injury.slug", primary_key=True)
    muscle_slug: str = slug_fk("muscle.slug", primary_key=True)


class InjuryExercise(SQLModel, table=True):
    __tablename__ = "injury_exercise"

    injury_slug: str = slug_fk("injury.slug", primary_key=True)
    exercise_slug: str = slug_fk("exercise.slug", primary_key=True)


class Progression(SQLModel, table=True):
    """Directed edge: ``easier`` progresses to ``harder``."""

    easier_slug: str = slug_fk("exercise.slug", primary_key=True)
    harder_slug: str = slug_fk("exercise.slug", primary_key=True)
    progress_when: str
    regress_when: str
    progress_criteria: list[dict[str, Any]] = json_list()
    regress_criteria: list[dict[str, Any]] = json_list()
    sources: list[str] = json_list()


class Protocol(SQLModel, table=True):
    slug: str = Field(primary_key=True, max_length=80)
    position: int
    name: str = Field(max_length=120)
    kind: str = Field(max_length=40, index=True)
    summary: str
    frequency: str
    duration_weeks: int | None = None
    pain_rules: list[str] = json_list()
    stages: list[dict[str, Any]] = json_list()
    regress_criteria: list[dict[str, Any]] = json_list()
    outcomes: list[dict[str, Any]] = json_list()
    cautions: list[str] = json_list()
    sources: list[str] = json_list()


class CatalogueMeta(SQLModel, table=True):
    """Key/value facts about the loaded catalogue (``version``: content hash)."""

    __tablename__ = "catalogue_meta"

    key: str = Field(primary_key=True, max_length=40)
    value: str
