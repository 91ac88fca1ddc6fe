"""Load the authored catalogue into the database: insert, update and delete rows so the
tables match the data files, in one transaction. Running it twice changes nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete
from sqlmodel import Session, SQLModel, select

from app.catalogue import content as c
from app.catalogue import models as m
from app.catalogue.service import search_text
from app.core.db import write_session

VERSION_KEY = "version"


@dataclass
class SeedReport:
    version: str
    changed: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.changed:
            return f"catalogue {self.version[:12]} already loaded; nothing changed"
        parts = [
            f"{table}: +{n['inserted']} ~{n['updated']} -{n['deleted']}"
            for table, n in self.counts.items()
            if any(n.values())
        ]
        return f"catalogue {self.version[:12]} loaded ({'; '.join(parts) or 'no row changes'})"


def content_version(cat: c.Catalogue) -> str:
    blob = json.dumps(cat.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _rows(
    cat: c.Catalogue,
) -> list[tuple[type[SQLModel], list[SQLModel], Callable[[Any], Hashable]]]:
    """Every table's wanted rows, parents before children."""
    by_slug: Callable[[Any], Hashable] = lambda r: r.slug  # noqa: E731
    muscles = sorted(enumerate(cat.muscles), key=lambda p: (p[1].kind != c.MuscleKind.group, p[0]))
    injuries = sorted(cat.injuries, key=lambda i: i.parent is not None)
    return [
        (m.Source, [m.Source(**x.model_dump(mode="json")) for x in cat.sources], by_slug),
        (
            m.RunningPhase,
            [
                m.RunningPhase(
                    slug=p.slug,
                    position=p.order,
                    name=p.name,
                    part_of=p.part_of,
                    description=p.description,
                    synonyms=p.synonyms,
                    sources=p.sources,
                )
                for p in cat.phases
            ],
            by_slug,
        ),
        (
            m.Muscle,
            [
                m.Muscle(
                    slug=x.slug,
                    position=pos,
                    name=x.name,
                    kind=x.kind.value,
                    group_slug=x.group,
                    body_region=x.body_region.value,
                    description=x.description,
                    key_for_achilles=x.key_for_achilles,
                    search_text=search_text(x.name, x.synonyms),
                    synonyms=x.synonyms,
                    actions=x.actions,
                    weakness_effects=x.weakness_effects,
                    tightness_effects=x.tightness_effects,
                    sources=x.sources,
                )
                for pos, x in muscles
            ],
            by_slug,
        ),
        (
            m.MusclePhase,
            [
                m.MusclePhase(muscle_slug=x.slug, phase_slug=r.phase, role=r.role)
                for x in cat.muscles
                for r in x.phase_roles
            ],
            lambda r: (r.muscle_slug, r.phase_slug),
        ),
        (
            m.Structure,
            [m.Structure(position=pos, **x.model_dump(mode="json")) for pos, x in enumerate(cat.structures, start=1)],
            by_slug,
        ),
        (m.Equipment, [m.Equipment(**x.model_dump(mode="json")) for x in cat.equipment], by_slug),
        (
            m.Exercise,
            [
                m.Exercise(
                    slug=x.slug,
                    name=x.name,
                    summary=x.summary,
                    loading_type=x.loading_type.value,
                    level=x.level.value,
                    laterality=x.laterality.value,
                    needs_equipment=bool(x.equipment),
                    achilles_tier=x.achilles_load.tier if x.achilles_load else None,
                    achilles_body_weights=x.achilles_load.body_weights if x.achilles_load else None,
                    achilles_sources=x.achilles_load.sources if x.achilles_load else [],
                    search_text=search_text(x.name, x.synonyms),
                    synonyms=x.synonyms,
                    steps=x.steps,
                    dose=x.dose.model_dump(mode="json", exclude_none=True),
                    cautions=x.cautions,
                    sources=x.sources,
                )
                for x in cat.exercises
            ],
            by_slug,
        ),
        (
            m.ExerciseMuscle,
            [
                m.ExerciseMuscle(exercise_slug=x.slug, muscle_slug=mu, role=role)
                for x in cat.exercises
                for role, group in (
                    ("primary", x.primary_muscles),
                    ("secondary", x.secondary_muscles),
                )
                for mu in group
            ],
            lambda r: (r.exercise_slug, r.muscle_slug),
        ),
        (
            m.ExerciseEquipment,
            [m.ExerciseEquipment(exercise_slug=x.slug, equipment_slug=e) for x in cat.exercises for e in x.equipment],
            lambda r: (r.exercise_slug, r.equipment_slug),
        ),
        (
            m.Injury,
            [
                m.Injury(
                    slug=x.slug,
                    name=x.name,
                    parent_slug=x.parent,
                    body_region=x.body_region.value,
                    description=x.description,
                    search_text=search_text(x.name, x.synonyms),
                    structures=x.structures,
                    synonyms=x.synonyms,
                    notes=x.notes,
                    sources=x.sources,
                )
                for x in injuries
            ],
            by_slug,
        ),
        (
            m.InjuryMuscle,
            [m.InjuryMuscle(injury_slug=x.slug, muscle_slug=mu) for x in cat.injuries for mu in x.weak_muscles],
            lambda r: (r.injury_slug, r.muscle_slug),
        ),
        (
            m.InjuryExercise,
            [m.InjuryExercise(injury_slug=x.slug, exercise_slug=e) for x in cat.injuries for e in x.exercises],
            lambda r: (r.injury_slug, r.exercise_slug),
        ),
        (
            m.Progression,
            [
                m.Progression(
                    easier_slug=x.easier,
                    harder_slug=x.harder,
                    progress_when=x.progress_when,
                    regress_when=x.regress_when,
                    progress_criteria=[c.model_dump(mode="json") for c in x.progress_criteria],
                    regress_criteria=[c.model_dump(mode="json") for c in x.regress_criteria],
                    sources=x.sources,
                )
                for x in cat.progressions
            ],
            lambda r: (r.easier_slug, r.harder_slug),
        ),
        (
            m.Protocol,
            [m.Protocol(position=pos, **x.model_dump(mode="json")) for pos, x in enumerate(cat.protocols, start=1)],
            by_slug,
        ),
    ]


def _dump(row: SQLModel) -> dict[str, Any]:
    return row.model_dump(mode="json")


def _sync(
    session: Session, model: type[SQLModel], wanted: list[SQLModel], key: Callable[[Any], Hashable]
) -> tuple[dict[str, int], list[Hashable]]:
    """Insert and update to match ``wanted``; return counts and the rows to delete."""
    existing = {key(r): r for r in session.exec(select(model)).all()}
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    for row in wanted:
        current = existing.pop(key(row), None)
        if current is None:
            session.add(row)
            counts["inserted"] += 1
        elif _dump(current) != _dump(row):
            for name, value in _dump(row).items():
                setattr(current, name, value)
            counts["updated"] += 1
    counts["deleted"] = len(existing)
    return counts, list(existing)


def _delete(session: Session, model: type[SQLModel], keys: list[Hashable]) -> None:
    """Delete rows by primary key; rows already gone through ON DELETE CASCADE are no-ops."""
    table = model.__table__  # type: ignore[attr-defined]
    columns = list(table.primary_key.columns)
    for key in keys:
        values = key if isinstance(key, tuple) else (key,)
        session.execute(delete(table).where(*(c == v for c, v in zip(columns, values, strict=True))))


def seed(engine: Engine, data_dir: Path = c.DATA_DIR) -> SeedReport:
    """Validate the data files and make the catalogue tables match them."""
    cat = c.load_catalogue(data_dir)
    version = content_version(cat)
    with write_session(engine) as session:
        meta = session.get(m.CatalogueMeta, VERSION_KEY)
        if meta is not None and meta.value == version:
            return SeedReport(version=version, changed=False)
        report = SeedReport(version=version, changed=True)
        stale: list[tuple[type[SQLModel], list[Hashable]]] = []
        for model, wanted, key in _rows(cat):
            counts, gone = _sync(session, model, wanted, key)
            session.flush()
            report.counts[str(model.__tablename__)] = counts
            stale.append((model, gone))
        for model, keys in reversed(stale):  # children before parents
            _delete(session, model, keys)
        if meta is None:
            session.add(m.CatalogueMeta(key=VERSION_KEY, value=version))
        else:
            meta.value = version
        session.commit()
    return report


def stored_version(engine: Engine) -> str | None:
    with Session(engine) as session:
        meta = session.get(m.CatalogueMeta, VERSION_KEY)
        return meta.value if meta else None
