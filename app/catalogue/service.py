"""Catalogue queries: typed functions taking a session and returning public models.

Lists run two statements (a count and a page) plus one batched query per relation
shown on the page, so a page costs the same whatever its size (no N+1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnElement, Table, bindparam, or_
from sqlalchemy import select as select_table
from sqlmodel import Session, SQLModel, col, select

from app.catalogue import models as m
from app.catalogue import schemas as s
from app.catalogue.content import (
    AchillesLoad,
    BodyRegion,
    Criterion,
    Dose,
    Laterality,
    Level,
    LoadFigure,
    LoadingType,
    MuscleKind,
    Outcome,
    ProtocolStage,
)
from app.core.db import table_of
from app.core.direct import Direct
from app.core.errors import FieldProblem, NotFound
from app.core.pagination import DirectPageQuery, PageParams, PageQuery, page_rows

Row = TypeVar("Row", bound=SQLModel)
NONE_NEEDED = "none"
EXERCISE_TABLE: Table = table_of(m.Exercise)
_EXERCISE = Direct(select_table(EXERCISE_TABLE).where(EXERCISE_TABLE.c.slug == bindparam("slug")))


class UnknownReference(NotFound):
    """A filter names a record that does not exist (404, naming the parameter)."""

    def __init__(self, kind: str, slug: str, parameter: str) -> None:
        super().__init__(f"No {kind} '{slug}' (query parameter '{parameter}').")
        self.errors = [
            FieldProblem(name=parameter, location="query", detail=f"no {kind} '{slug}'", type="unknown_slug")
        ]


def _one(session: Session, model: type[Row], slug: str, kind: str) -> Row:
    row = session.get(model, slug)
    if row is None:
        raise NotFound(f"No {kind} '{slug}'.")
    return row


def _search(column: Any, q: str | None) -> ColumnElement[bool] | None:
    """Case-insensitive substring match on a lower-cased search column."""
    if not q or not q.strip():
        return None
    term = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return col(column).like(f"%{term}%", escape="\\")


def search_text(name: str, synonyms: Iterable[str]) -> str:
    return "\n".join([name, *synonyms]).lower()


@dataclass
class _Names:
    """Slug -> display name, fetched once per kind per request."""

    session: Session
    cache: dict[type[SQLModel], dict[str, str]]

    def of(self, model: type[SQLModel]) -> dict[str, str]:
        if model not in self.cache:
            slug, name = model.slug, model.name  # type: ignore[attr-defined]
            self.cache[model] = dict(self.session.exec(select(slug, name)).all())
        return self.cache[model]

    def refs(self, model: type[SQLModel], slugs: Iterable[str]) -> list[s.Ref]:
        names = self.of(model)
        return [s.ref(slug, names[slug]) for slug in slugs if slug in names]

    def ref(self, model: type[SQLModel], slug: str | None) -> s.Ref | None:
        refs = self.refs(model, [slug] if slug else [])
        return refs[0] if refs else None


def _grouped(session: Session, stmt: Any) -> dict[str, list[str]]:
    """Rows of (key, value), in the statement's order, as key -> [values]: one query for
    a whole page's links."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, value in session.exec(stmt).all():
        grouped[key or ""].append(value)
    return grouped


def _names(session: Session) -> _Names:
    return _Names(session, {})


def _expand_muscles(session: Session, slug: str, parameter: str) -> set[str]:
    """A muscle slug, plus its members when it is a group."""
    muscle = session.get(m.Muscle, slug)
    if muscle is None:
        raise UnknownReference("muscle", slug, parameter)
    members = session.exec(select(m.Muscle.slug).where(m.Muscle.group_slug == slug)).all()
    return {slug, *members}


def _expand_injuries(session: Session, slug: str, parameter: str) -> set[str]:
    if session.get(m.Injury, slug) is None:
        raise UnknownReference("injury", slug, parameter)
    found, frontier = {slug}, {slug}
    while frontier:
        children = set(session.exec(select(m.Injury.slug).where(col(m.Injury.parent_slug).in_(frontier))).all())
        frontier = children - found
        found |= frontier
    return found


# ---------------------------------------------------------------- sources


def list_sources(session: Session, params: PageParams, kind: str | None = None) -> tuple[list[s.SourcePublic], int]:
    stmt = select(m.Source)
    if kind:
        stmt = stmt.where(m.Source.kind == kind)
    rows, total = page_rows(session, stmt, params, m.Source.kind, m.Source.slug)
    return [s.SourcePublic.model_validate(r) for r in rows], total


def get_source(session: Session, slug: str) -> s.SourcePublic:
    return s.SourcePublic.model_validate(_one(session, m.Source, slug, "source"))


# ---------------------------------------------------------------- muscles


def _muscles_public(session: Session, rows: Sequence[m.Muscle]) -> list[s.MusclePublic]:
    names = _names(session)
    slugs = [r.slug for r in rows]
    members = _grouped(
        session,
        select(m.Muscle.group_slug, m.Muscle.slug)
        .where(col(m.Muscle.group_slug).in_(slugs))
        .order_by(col(m.Muscle.position)),
    )
    roles: dict[str, list[s.PhaseRolePublic]] = defaultdict(list)
    phase_names = names.of(m.RunningPhase)
    for link in session.exec(
        select(m.MusclePhase)
        .join(m.RunningPhase)
        .where(col(m.MusclePhase.muscle_slug).in_(slugs))
        .order_by(col(m.RunningPhase.position))
    ).all():
        roles[link.muscle_slug].append(
            s.PhaseRolePublic(phase=s.ref(link.phase_slug, phase_names[link.phase_slug]), role=link.role)
        )
    injuries = _grouped(
        session,
        select(m.InjuryMuscle.muscle_slug, m.InjuryMuscle.injury_slug)
        .where(col(m.InjuryMuscle.muscle_slug).in_(slugs))
        .order_by(m.InjuryMuscle.injury_slug),
    )
    return [
        s.MusclePublic(
            slug=r.slug,
            name=r.name,
            kind=MuscleKind(r.kind),
            group=names.ref(m.Muscle, r.group_slug),
            members=names.refs(m.Muscle, members[r.slug]),
            synonyms=r.synonyms,
            body_region=BodyRegion(r.body_region),
            description=r.description,
            actions=r.actions,
            phase_roles=roles[r.slug],
            weakness_effects=r.weakness_effects,
            tightness_effects=r.tightness_effects,
            key_for_achilles=r.key_for_achilles,
            injuries=names.refs(m.Injury, injuries[r.slug]),
            sources=r.sources,
        )
        for r in rows
    ]


def list_muscles(
    session: Session,
    params: PageParams,
    *,
    kind: MuscleKind | None = None,
    group: str | None = None,
    body_region: BodyRegion | None = None,
    phase: str | None = None,
    key_for_achilles: bool | None = None,
    q: str | None = None,
) -> tuple[list[s.MusclePublic], int]:
    stmt = select(m.Muscle)
    if kind:
        stmt = stmt.where(m.Muscle.kind == kind.value)
    if group:
        if session.get(m.Muscle, group) is None:
            raise UnknownReference("muscle group", group, "group")
        stmt = stmt.where(m.Muscle.group_slug == group)
    if body_region:
        stmt = stmt.where(m.Muscle.body_region == body_region.value)
    if phase:
        _check_exists(session, m.RunningPhase, phase, "running phase", "phase")
        stmt = stmt.where(
            col(m.Muscle.slug).in_(select(m.MusclePhase.muscle_slug).where(m.MusclePhase.phase_slug == phase))
        )
    if key_for_achilles is not None:
        stmt = stmt.where(m.Muscle.key_for_achilles == key_for_achilles)
    if (cond := _search(m.Muscle.search_text, q)) is not None:
        stmt = stmt.where(cond)
    rows, total = page_rows(session, stmt, params, m.Muscle.position)
    return _muscles_public(session, rows), total


def get_muscle(session: Session, slug: str) -> s.MusclePublic:
    return _muscles_public(session, [_one(session, m.Muscle, slug, "muscle")])[0]


def _check_exists(session: Session, model: type[SQLModel], slug: str, kind: str, parameter: str) -> None:
    if session.get(model, slug) is None:
        raise UnknownReference(kind, slug, parameter)


# ---------------------------------------------------------------- running phases


def _phases_public(session: Session, rows: Sequence[m.RunningPhase]) -> list[s.RunningPhasePublic]:
    muscle_names = _names(session).of(m.Muscle)
    by_phase: dict[str, list[s.PhaseMusclePublic]] = defaultdict(list)
    for link in session.exec(
        select(m.MusclePhase)
        .join(m.Muscle)
        .where(col(m.MusclePhase.phase_slug).in_([r.slug for r in rows]))
        .order_by(col(m.Muscle.position))
    ).all():
        by_phase[link.phase_slug].append(
            s.PhaseMusclePublic(
                muscle=s.ref(link.muscle_slug, muscle_names[link.muscle_slug]),
                role=link.role,
            )
        )
    return [
        s.RunningPhasePublic(
            slug=r.slug,
            name=r.name,
            order=r.position,
            part_of=r.part_of,
            synonyms=r.synonyms,
            description=r.description,
            muscles=by_phase[r.slug],
            sources=r.sources,
        )
        for r in rows
    ]


def list_phases(session: Session, params: PageParams) -> tuple[list[s.RunningPhasePublic], int]:
    rows, total = page_rows(session, select(m.RunningPhase), params, m.RunningPhase.position)
    return _phases_public(session, rows), total


def get_phase(session: Session, slug: str) -> s.RunningPhasePublic:
    return _phases_public(session, [_one(session, m.RunningPhase, slug, "running phase")])[0]


# ---------------------------------------------------------------- structures


def _structure_public(names: _Names, r: m.Structure) -> s.StructurePublic:
    return s.StructurePublic(
        slug=r.slug,
        name=r.name,
        kind=r.kind,
        synonyms=r.synonyms,
        body_region=BodyRegion(r.body_region),
        description=r.description,
        function=r.function,
        muscles=names.refs(m.Muscle, r.muscles),
        attaches_to=r.attaches_to,
        facts=r.facts,
        loads=[LoadFigure.model_validate(x) for x in r.loads],
        sources=r.sources,
    )


def list_structures(session: Session, params: PageParams) -> tuple[list[s.StructurePublic], int]:
    rows, total = page_rows(session, select(m.Structure), params, m.Structure.position)
    names = _names(session)
    return [_structure_public(names, r) for r in rows], total


def get_structure(session: Session, slug: str) -> s.StructurePublic:
    return _structure_public(_names(session), _one(session, m.Structure, slug, "structure"))


# ---------------------------------------------------------------- equipment


def list_equipment(session: Session, params: PageParams) -> tuple[list[s.EquipmentPublic], int]:
    rows, total = page_rows(session, select(m.Equipment), params, m.Equipment.name, m.Equipment.slug)
    return [s.EquipmentPublic.model_validate(r) for r in rows], total


def get_equipment(session: Session, slug: str) -> s.EquipmentPublic:
    return s.EquipmentPublic.model_validate(_one(session, m.Equipment, slug, "equipment"))


# ---------------------------------------------------------------- injuries


def _injuries_public(session: Session, rows: Sequence[m.Injury]) -> list[s.InjuryPublic]:
    names = _names(session)
    slugs = [r.slug for r in rows]
    children = _grouped(
        session,
        select(m.Injury.parent_slug, m.Injury.slug)
        .where(col(m.Injury.parent_slug).in_(slugs))
        .order_by(col(m.Injury.name)),
    )
    muscles = _grouped(
        session,
        select(m.InjuryMuscle.injury_slug, m.InjuryMuscle.muscle_slug)
        .join(m.Muscle)
        .where(col(m.InjuryMuscle.injury_slug).in_(slugs))
        .order_by(col(m.Muscle.position)),
    )
    exercises = _grouped(
        session,
        select(m.InjuryExercise.injury_slug, m.InjuryExercise.exercise_slug)
        .join(m.Exercise)
        .where(col(m.InjuryExercise.injury_slug).in_(slugs))
        .order_by(col(m.Exercise.name)),
    )
    return [
        s.InjuryPublic(
            slug=r.slug,
            name=r.name,
            synonyms=r.synonyms,
            parent=names.ref(m.Injury, r.parent_slug),
            children=names.refs(m.Injury, children[r.slug]),
            body_region=BodyRegion(r.body_region),
            description=r.description,
            weak_muscles=names.refs(m.Muscle, muscles[r.slug]),
            structures=names.refs(m.Structure, r.structures),
            exercises=names.refs(m.Exercise, exercises[r.slug]),
            notes=r.notes,
            sources=r.sources,
        )
        for r in rows
    ]


def list_injuries(
    session: Session,
    params: PageParams,
    *,
    muscle: str | None = None,
    body_region: BodyRegion | None = None,
    q: str | None = None,
) -> tuple[list[s.InjuryPublic], int]:
    stmt = select(m.Injury)
    if muscle:
        slugs = _expand_muscles(session, muscle, "muscle")
        stmt = stmt.where(
            col(m.Injury.slug).in_(select(m.InjuryMuscle.injury_slug).where(col(m.InjuryMuscle.muscle_slug).in_(slugs)))
        )
    if body_region:
        stmt = stmt.where(m.Injury.body_region == body_region.value)
    if (cond := _search(m.Injury.search_text, q)) is not None:
        stmt = stmt.where(cond)
    rows, total = page_rows(session, stmt, params, m.Injury.name, m.Injury.slug)
    return _injuries_public(session, rows), total


def get_injury(session: Session, slug: str) -> s.InjuryPublic:
    return _injuries_public(session, [_one(session, m.Injury, slug, "injury")])[0]


# ---------------------------------------------------------------- exercises


@dataclass(frozen=True, slots=True)
class ExerciseFilters:
    q: str | None = None
    muscle: str | None = None
    muscle_role: str = "any"
    injury: str | None = None
    loading_type: LoadingType | None = None
    equipment: str | None = None
    available_equipment: tuple[str, ...] = ()
    level: Level | None = None
    laterality: Laterality | None = None
    max_achilles_tier: int | None = None


def _exercise_where(session: Session, f: ExerciseFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if (cond := _search(m.Exercise.search_text, f.q)) is not None:
        where.append(cond)
    if f.muscle:
        slugs = _expand_muscles(session, f.muscle, "muscle")
        link = select(m.ExerciseMuscle.exercise_slug).where(col(m.ExerciseMuscle.muscle_slug).in_(slugs))
        if f.muscle_role != "any":
            link = link.where(m.ExerciseMuscle.role == f.muscle_role)
        where.append(col(m.Exercise.slug).in_(link))
    if f.injury:
        injuries = _expand_injuries(session, f.injury, "injury")
        where.append(
            col(m.Exercise.slug).in_(
                select(m.InjuryExercise.exercise_slug).where(col(m.InjuryExercise.injury_slug).in_(injuries))
            )
        )
    if f.loading_type:
        where.append(col(m.Exercise.loading_type) == f.loading_type.value)
    if f.level:
        where.append(col(m.Exercise.level) == f.level.value)
    if f.laterality:
        where.append(col(m.Exercise.laterality) == f.laterality.value)
    if f.max_achilles_tier is not None:
        where.append(col(m.Exercise.achilles_tier) <= f.max_achilles_tier)
    if f.equipment == NONE_NEEDED:
        where.append(col(m.Exercise.needs_equipment).is_(False))
    elif f.equipment:
        _check_exists(session, m.Equipment, f.equipment, "equipment", "equipment")
        where.append(
            col(m.Exercise.slug).in_(
                select(m.ExerciseEquipment.exercise_slug).where(m.ExerciseEquipment.equipment_slug == f.equipment)
            )
        )
    if f.available_equipment:
        have = set(f.available_equipment) - {NONE_NEEDED}
        for slug in sorted(have):
            _check_exists(session, m.Equipment, slug, "equipment", "available_equipment")
        missing = select(m.ExerciseEquipment.exercise_slug).where(col(m.ExerciseEquipment.equipment_slug).not_in(have))
        where.append(col(m.Exercise.slug).not_in(missing))
    return where


def _refs_by_key(session: Session, stmt: Direct, slugs: list[str]) -> dict[str, list[s.Ref]]:
    """Rows of (key, slug, name), in the statement's order, as key -> [Ref]: one query
    for a whole page's links, names joined in (no table of names read on the side)."""
    grouped: dict[str, list[s.Ref]] = defaultdict(list)
    for key, slug, name in stmt.rows(session, {"slugs": slugs}):
        grouped[key].append(s.ref(slug, name))
    return grouped


# A page's links, each with the linked record's name, built once (a statement built per
# request costs more to construct and key than to run): ``slugs`` are the page's exercises.
# Core statements on the tables, run on the driver (core.direct).
_PAGE: BindParameter[list[str]] = bindparam("slugs", expanding=True)
_EM, _MU = table_of(m.ExerciseMuscle), table_of(m.Muscle)
_EE, _EQ = table_of(m.ExerciseEquipment), table_of(m.Equipment)
_IE, _IN = table_of(m.InjuryExercise), table_of(m.Injury)
_PR, _EASIER, _HARDER = table_of(m.Progression), EXERCISE_TABLE.alias("easier"), EXERCISE_TABLE.alias("harder")
_MUSCLES_OF = Direct(
    select_table(_EM.c.exercise_slug, _EM.c.role, _MU.c.slug, _MU.c.name)
    .join_from(_EM, _MU, _MU.c.slug == _EM.c.muscle_slug)
    .where(_EM.c.exercise_slug.in_(_PAGE))
    .order_by(_MU.c.position)
)
_EQUIPMENT_OF = Direct(
    select_table(_EE.c.exercise_slug, _EQ.c.slug, _EQ.c.name)
    .join_from(_EE, _EQ, _EQ.c.slug == _EE.c.equipment_slug)
    .where(_EE.c.exercise_slug.in_(_PAGE))
    .order_by(_EQ.c.name)
)
_INJURIES_OF = Direct(
    select_table(_IE.c.exercise_slug, _IN.c.slug, _IN.c.name)
    .join_from(_IE, _IN, _IN.c.slug == _IE.c.injury_slug)
    .where(_IE.c.exercise_slug.in_(_PAGE))
    .order_by(_IN.c.name)
)
_EDGES_OF = Direct(
    select_table(_PR.c.easier_slug, _EASIER.c.name, _PR.c.harder_slug, _HARDER.c.name)
    .join_from(_PR, _EASIER, _EASIER.c.slug == _PR.c.easier_slug)
    .join(_HARDER, _HARDER.c.slug == _PR.c.harder_slug)
    .where(or_(_PR.c.easier_slug.in_(_PAGE), _PR.c.harder_slug.in_(_PAGE)))
    .order_by(_PR.c.easier_slug, _PR.c.harder_slug)
)


def _exercises_public(session: Session, rows: Sequence[Any]) -> list[s.ExercisePublic]:
    """``rows``: exercises (table rows or records). Four more statements for the page's
    muscles, equipment, injuries and progression edges, each row with its names."""
    slugs = [r.slug for r in rows]
    primary: dict[str, list[s.Ref]] = defaultdict(list)
    secondary: dict[str, list[s.Ref]] = defaultdict(list)
    for exercise, role, slug, name in _MUSCLES_OF.rows(session, {"slugs": slugs}):
        (primary if role == "primary" else secondary)[exercise].append(s.ref(slug, name))
    equipment = _refs_by_key(session, _EQUIPMENT_OF, slugs)
    injuries = _refs_by_key(session, _INJURIES_OF, slugs)
    harder: dict[str, list[s.Ref]] = defaultdict(list)
    easier: dict[str, list[s.Ref]] = defaultdict(list)
    for easier_slug, easier_name, harder_slug, harder_name in _EDGES_OF.rows(session, {"slugs": slugs}):
        harder[easier_slug].append(s.ref(harder_slug, harder_name))
        easier[harder_slug].append(s.ref(easier_slug, easier_name))
    # Built from validated catalogue rows and typed values: constructed, not validated again.
    return [
        s.ExercisePublic.model_construct(
            slug=r.slug,
            name=r.name,
            synonyms=r.synonyms,
            summary=r.summary,
            steps=r.steps,
            loading_type=LoadingType(r.loading_type),
            level=Level(r.level),
            laterality=Laterality(r.laterality),
            primary_muscles=primary[r.slug],
            secondary_muscles=secondary[r.slug],
            equipment=equipment[r.slug],
            dose=Dose.model_validate(r.dose),
            cautions=r.cautions,
            achilles_load=(
                AchillesLoad(
                    tier=r.achilles_tier,
                    body_weights=r.achilles_body_weights,
                    sources=r.achilles_sources,
                )
                if r.achilles_tier is not None
                else None
            ),
            injuries=injuries[r.slug],
            progressions=harder[r.slug],
            regressions=easier[r.slug],
            sources=r.sources,
        )
        for r in rows
    ]


_BY_NAME = (EXERCISE_TABLE.c.name, EXERCISE_TABLE.c.slug)
_ALL_EXERCISES = DirectPageQuery.of(select_table(EXERCISE_TABLE), *_BY_NAME)  # unfiltered: built once


def list_exercises(
    session: Session, params: PageParams, filters: ExerciseFilters
) -> tuple[list[s.ExercisePublic], int]:
    # Table rows, not ORM objects: nothing here is updated, so no identity map to fill.
    where = _exercise_where(session, filters)
    if where:
        rows, total = PageQuery.of(select_table(EXERCISE_TABLE).where(*where), *_BY_NAME).run(session, params)
    else:
        rows, total = _ALL_EXERCISES.run(session, params)
    return _exercises_public(session, rows), total


def get_exercise(session: Session, slug: str) -> s.ExercisePublic:
    row = _EXERCISE.first(session, {"slug": slug})
    if row is None:
        raise NotFound(f"No exercise '{slug}'.")
    return _exercises_public(session, [row])[0]


def get_exercise_progressions(session: Session, slug: str) -> s.ExerciseProgressions:
    exercise = _one(session, m.Exercise, slug, "exercise")
    names = _names(session).of(m.Exercise)

    def step(other: str, edge: m.Progression) -> s.ProgressionStep:
        return s.ProgressionStep(
            exercise=s.ref(other, names[other]),
            progress_when=edge.progress_when,
            regress_when=edge.regress_when,
            progress_criteria=[Criterion.model_validate(c) for c in edge.progress_criteria],
            regress_criteria=[Criterion.model_validate(c) for c in edge.regress_criteria],
            sources=edge.sources,
        )

    edges = session.exec(
        select(m.Progression)
        .where(or_(col(m.Progression.easier_slug) == slug, col(m.Progression.harder_slug) == slug))
        .order_by(m.Progression.easier_slug, m.Progression.harder_slug)
    ).all()
    return s.ExerciseProgressions(
        exercise=s.ref(exercise.slug, exercise.name),
        progressions=[step(e.harder_slug, e) for e in edges if e.easier_slug == slug],
        regressions=[step(e.easier_slug, e) for e in edges if e.harder_slug == slug],
    )


def list_progressions(session: Session, params: PageParams) -> tuple[list[s.ProgressionPublic], int]:
    rows, total = page_rows(
        session, select(m.Progression), params, m.Progression.easier_slug, m.Progression.harder_slug
    )
    names = _names(session).of(m.Exercise)
    return [
        s.ProgressionPublic(
            easier=s.ref(r.easier_slug, names[r.easier_slug]),
            harder=s.ref(r.harder_slug, names[r.harder_slug]),
            progress_when=r.progress_when,
            regress_when=r.regress_when,
            progress_criteria=[Criterion.model_validate(c) for c in r.progress_criteria],
            regress_criteria=[Criterion.model_validate(c) for c in r.regress_criteria],
            sources=r.sources,
        )
        for r in rows
    ], total


# ---------------------------------------------------------------- protocols


def _protocol_public(r: m.Protocol) -> s.ProtocolPublic:
    return s.ProtocolPublic(
        slug=r.slug,
        name=r.name,
        kind=r.kind,
        summary=r.summary,
        frequency=r.frequency,
        duration_weeks=r.duration_weeks,
        pain_rules=r.pain_rules,
        stages=[ProtocolStage.model_validate(x) for x in r.stages],
        regress_criteria=[Criterion.model_validate(x) for x in r.regress_criteria],
        outcomes=[Outcome.model_validate(x) for x in r.outcomes],
        cautions=r.cautions,
        sources=r.sources,
    )


def list_protocols(session: Session, params: PageParams, kind: str | None = None) -> tuple[list[s.ProtocolPublic], int]:
    stmt = select(m.Protocol)
    if kind:
        stmt = stmt.where(m.Protocol.kind == kind)
    rows, total = page_rows(session, stmt, params, m.Protocol.position)
    return [_protocol_public(r) for r in rows], total


def get_protocol(session: Session, slug: str) -> s.ProtocolPublic:
    return _protocol_public(_one(session, m.Protocol, slug, "protocol"))
