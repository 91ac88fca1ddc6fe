"""The catalogue's authored content: the shape of the YAML files in ``data/``.

Every record is validated when loaded. A broken file fails with a message that names
the file and the record (its slug or its position), so an author sees at once what to
fix. Cross-references (a muscle named by an exercise, an exercise named by an injury...)
are checked after all files are read, by :func:`check_references`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.core.schemas import SLUG_PATTERN, TEMPO_PATTERN

DATA_DIR = Path(__file__).parent / "data"

Slug = Annotated[str, Field(pattern=SLUG_PATTERN, min_length=2, max_length=80)]
Text = Annotated[str, Field(min_length=3, max_length=2000)]
Name = Annotated[str, Field(min_length=2, max_length=120)]
TEMPO = TEMPO_PATTERN


class ContentError(ValueError):
    """A data file is malformed; the message names the file and the record."""


class LoadingType(StrEnum):
    isometric = "isometric"
    eccentric = "eccentric"
    strength = "strength"
    plyometric = "plyometric"
    stretch = "stretch"
    mobility = "mobility"
    balance = "balance"
    breathing = "breathing"
    running = "running"


class Level(StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"


class Laterality(StrEnum):
    bilateral = "bilateral"
    unilateral = "unilateral"
    alternating = "alternating"


class BodyRegion(StrEnum):
    foot = "foot"
    ankle = "ankle"
    lower_leg = "lower-leg"
    knee = "knee"
    thigh = "thigh"
    hip = "hip"
    trunk = "trunk"
    upper_body = "upper-body"
    neck = "neck"


class MuscleKind(StrEnum):
    group = "group"
    muscle = "muscle"


class SourceKind(StrEnum):
    seed = "seed"
    evidence = "evidence"
    editorial = "editorial"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# ---------------------------------------------------------------- sources


class Source(Strict):
    """A seed article or a published study that catalogue facts come from."""

    slug: Slug
    kind: SourceKind
    title: Name
    citation: Text
    file: str | None = Field(default=None, description="For seeds: the file name under shared/seeds/.")
    evidence_section: str | None = Field(default=None, description="For studies: the section of docs/evidence.md.")

    @model_validator(mode="after")
    def _seed_has_file(self) -> Source:
        if self.kind is SourceKind.seed and not self.file:
            raise ValueError("a seed source needs its file name")
        return self


class Sourced(Strict):
    sources: list[Slug] = Field(min_length=1, description="Slugs of the sources the facts come from (see /v1/sources).")


# ---------------------------------------------------------------- anatomy


class PhaseRole(Strict):
    phase: Slug
    role: Text


class Muscle(Sourced):
    slug: Slug
    name: Name
    kind: MuscleKind
    group: Slug | None = Field(default=None, description="Parent group slug (members only).")
    synonyms: list[Name] = []
    body_region: BodyRegion
    description: Text
    actions: list[Slug] = Field(default=[], description="e.g. knee-extension, plantar-flexion.")
    phase_roles: list[PhaseRole] = []
    weakness_effects: list[Text] = []
    tightness_effects: list[Text] = []
    key_for_achilles: bool = False

    @model_validator(mode="after")
    def _group_rules(self) -> Muscle:
        if self.kind is MuscleKind.group and self.group is not None:
            raise ValueError("a group has no parent group")
        if self.kind is MuscleKind.muscle and self.group is None:
            raise ValueError("a member muscle names its group")
        return self


class LoadFigure(Sourced):
    activity: Name = Field(description="What the load was measured or claimed for.")
    body_weights_low: float = Field(gt=0, le=20, description="Lower bound, in multiples of body weight.")
    body_weights_high: float = Field(gt=0, le=20, description="Upper bound, in multiples of body weight.")
    measured: bool = Field(description="True for a measured (published) figure, False for a seed's claim.")
    note: Text | None = Field(default=None, description="Context for the figure.")

    @model_validator(mode="after")
    def _ordered(self) -> LoadFigure:
        if self.body_weights_high < self.body_weights_low:
            raise ValueError("body_weights_high is below body_weights_low")
        return self


class Structure(Sourced):
    slug: Slug
    name: Name
    kind: Literal["tendon", "fascia", "bone", "ligament"]
    synonyms: list[Name] = []
    body_region: BodyRegion
    description: Text
    function: Text
    muscles: list[Slug] = Field(default=[], description="Muscles that join this structure.")
    attaches_to: Name | None = None
    facts: list[Text] = []
    loads: list[LoadFigure] = []


class RunningPhase(Sourced):
    slug: Slug
    name: Name
    order: int = Field(ge=1)
    synonyms: list[Name] = []
    part_of: Literal["stance", "swing"]
    description: Text


# ---------------------------------------------------------------- equipment and injuries


class Equipment(Sourced):
    slug: Slug
    name: Name
    synonyms: list[Name] = []
    description: Text


class Injury(Sourced):
    slug: Slug
    name: Name
    synonyms: list[Name] = []
    parent: Slug | None = Field(default=None, description="A broader injury this is a form of.")
    body_region: BodyRegion
    description: Text
    weak_muscles: list[Slug] = Field(default=[], description="Muscles whose weakness or tightness relates to it.")
    structures: list[Slug] = []
    exercises: list[Slug] = Field(default=[], description="Exercises that help.")
    notes: list[Text] = []


# ---------------------------------------------------------------- exercises


class Range(Strict):
    min: int = Field(ge=0, le=1000, description="Lowest value.")
    max: int = Field(ge=0, le=1000, description="Highest value (equal to min for a single value).")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.max < self.min:
            raise ValueError("max is below min")
        return self


class Dose(Strict):
    sets: Range = Field(description="Number of sets.")
    reps: Range | None = Field(default=None, description="Repetitions per set.")
    hold_seconds: Range | None = Field(default=None, description="Seconds each hold lasts.")
    duration_seconds: Range | None = Field(default=None, description="Timed work such as hops for 20-30 s.")
    per_side: bool = Field(default=False, description="True when sets and reps are for each side.")
    tempo: str | None = Field(
        default=None, pattern=TEMPO, description="Seconds lowering-pause-lifting(-pause), e.g. 3-0-3."
    )
    rest_seconds: Range | None = Field(default=None, description="Rest between sets, in seconds.")
    load: str | None = Field(default=None, max_length=200, description="e.g. body weight, 15RM, >70% 1RM.")
    frequency: str | None = Field(default=None, max_length=200, description="How often to do it.")
    sources: list[Slug] = Field(min_length=1, description="Sources of this dose (see /v1/sources).")

    @model_validator(mode="after")
    def _has_volume(self) -> Dose:
        if self.reps is None and self.hold_seconds is None and self.duration_seconds is None:
            raise ValueError("a dose names reps, hold_seconds or duration_seconds")
        return self


class AchillesLoad(Strict):
    tier: int = Field(ge=1, le=5, description="1 gentlest to 5 hardest on the Achilles tendon.")
    body_weights: float | None = Field(
        default=None, gt=0, le=20, description="Measured peak tendon load, where published."
    )
    sources: list[Slug] = Field(min_length=1, description="Sources of the grading (see /v1/sources).")


class Exercise(Sourced):
    slug: Slug
    name: Name
    synonyms: list[Name] = []
    summary: Text
    steps: list[Text] = Field(min_length=2)
    loading_type: LoadingType
    primary_muscles: list[Slug] = Field(min_length=1)
    secondary_muscles: list[Slug] = []
    equipment: list[Slug] = Field(default=[], description="Empty: nothing needed.")
    level: Level
    laterality: Laterality
    dose: Dose
    cautions: list[Text] = []
    achilles_load: AchillesLoad | None = None

    @field_validator("steps")
    @classmethod
    def _steps_distinct(cls, steps: list[str]) -> list[str]:
        if len(set(steps)) != len(steps):
            raise ValueError("steps repeat")
        return steps


# ---------------------------------------------------------------- criteria


class Metric(StrEnum):
    """What a criterion measures, over the week judged (tests: the latest record up to its end)."""

    pain_during_max = "pain_during_max"  # worst pain during a logged session, 0-10
    run_pain_max = "run_pain_max"  # worst pain during a logged run, 0-10
    morning_pain_over_baseline = "morning_pain_over_baseline"  # worst morning pain minus the usual level
    morning_pain_rise = "morning_pain_rise"  # mean morning pain minus last week's mean
    insertion_pain_max = "insertion_pain_max"  # worst morning pain at the heel-bone insertion
    sessions_completed = "sessions_completed"  # planned sessions with a linked workout
    sessions_completed_share = "sessions_completed_share"  # of the planned sessions, 0-1
    sets_completed_share = "sets_completed_share"  # of the planned sets in the logged sessions, 0-1
    runs_completed_share = "runs_completed_share"  # planned runs logged, 0-1
    heel_raise_reps = "heel_raise_reps"  # single-leg heel raises in a row, affected side
    heel_raise_lsi = "heel_raise_lsi"  # affected side against the other, percent
    hop_pain = "hop_pain"  # pain during the hop test, 0-10
    hop_count = "hop_count"  # pain-free single-leg hops, affected side


class Criterion(Strict):
    """A machine-readable rule: ``metric op value``, with where it comes from and whether a
    user may change it (``gate: false``: a default that was not trial-tested)."""

    slug: Slug = Field(description="Stable identifier, named by adaptation decisions.")
    metric: Metric = Field(description="What is measured.")
    op: Literal["<", "<=", ">", ">=", "=="] = Field(description="How the measure compares with the value.")
    value: float = Field(ge=0, le=1000, description="The threshold.")
    source: Slug = Field(description="The source of the threshold (see /v1/sources).")
    gate: bool = Field(description="True: from a trial or protocol, fixed; false: an adjustable default.")
    description: Text = Field(description="The rule in words.")


class Progression(Sourced):
    """A directed edge: ``easier`` progresses to ``harder``; ``harder`` regresses to ``easier``."""

    easier: Slug
    harder: Slug
    progress_when: Text
    regress_when: Text
    progress_criteria: list[Criterion] = Field(default=[], description="All must hold to move to the harder one.")
    regress_criteria: list[Criterion] = Field(default=[], description="Any one moves back to the easier one.")


# ---------------------------------------------------------------- protocols


class Prescription(Strict):
    exercise: Slug = Field(description="The exercise's slug.")
    sets: Range = Field(description="Number of sets.")
    reps: Range | None = Field(default=None, description="Repetitions per set.")
    hold_seconds: Range | None = Field(default=None, description="Seconds each hold lasts.")
    duration_seconds: Range | None = Field(default=None, description="Seconds of timed work per set.")
    per_side: bool = Field(default=False, description="True when sets and reps are for each side.")
    tempo: str | None = Field(default=None, pattern=TEMPO, description="Seconds lowering-pause-lifting(-pause).")
    rest_seconds: Range | None = Field(default=None, description="Rest between sets, in seconds.")
    load: str | None = Field(default=None, max_length=200, description="The load, e.g. 15RM or body weight.")
    note: Text | None = Field(default=None, description="How to apply it.")


class ProtocolStage(Strict):
    slug: Slug = Field(description="Stable identifier within the protocol.")
    name: Name = Field(description="Display name.")
    order: int = Field(ge=1, description="Position in the protocol, from 1.")
    week_from: int = Field(ge=1, le=104, description="First week of the stage.")
    week_to: int = Field(ge=1, le=104, description="Last week of the stage.")
    entry_criteria: list[Text] = Field(default=[], description="What must hold before entering the stage.")
    sessions_per_week: str | None = Field(default=None, max_length=120, description="How often it is trained.")
    prescriptions: list[Prescription] = Field(default=[], description="The exercises and their doses.")
    guidance: list[Text] = Field(default=[], description="Further rules for the stage.")
    verified: bool = Field(default=True, description="False where a dose could not be confirmed against a source.")
    min_weeks: int | None = Field(default=None, ge=1, le=104, description="Fewest weeks before moving on.")
    max_weeks: int | None = Field(default=None, ge=1, le=104, description="Usual longest stay; past it, seek advice.")
    entry: list[Criterion] = Field(default=[], description="All must hold to enter the stage.")
    exit: list[Criterion] = Field(default=[], description="All must hold to leave it for the next stage.")

    @model_validator(mode="after")
    def _weeks(self) -> ProtocolStage:
        if self.week_to < self.week_from:
            raise ValueError("week_to is before week_from")
        if self.min_weeks and self.max_weeks and self.max_weeks < self.min_weeks:
            raise ValueError("max_weeks is below min_weeks")
        return self


class Outcome(Sourced):
    finding: Text = Field(description="What the study found.")


class Protocol(Sourced):
    slug: Slug
    name: Name
    kind: Literal["achilles-tendinopathy", "tendon-conditioning", "runner-strength"]
    summary: Text
    frequency: Text
    duration_weeks: int | None = Field(default=None, ge=1, le=104)
    pain_rules: list[Text] = []
    stages: list[ProtocolStage] = Field(min_length=1)
    regress_criteria: list[Criterion] = Field(default=[], description="The pain rules: any one steps back.")
    outcomes: list[Outcome] = []
    cautions: list[Text] = []


# ---------------------------------------------------------------- loading

T = TypeVar("T", bound=BaseModel)


class Catalogue(BaseModel):
    """Every record of the authored catalogue, validated and cross-checked."""

    model_config = ConfigDict(frozen=True)

    sources: list[Source]
    muscles: list[Muscle]
    structures: list[Structure]
    phases: list[RunningPhase]
    equipment: list[Equipment]
    injuries: list[Injury]
    exercises: list[Exercise]
    progressions: list[Progression]
    protocols: list[Protocol]


# file stem (or directory) -> (Catalogue field, record model)
FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "sources": ("sources", Source),
    "muscles": ("muscles", Muscle),
    "structures": ("structures", Structure),
    "phases": ("phases", RunningPhase),
    "equipment": ("equipment", Equipment),
    "injuries": ("injuries", Injury),
    "exercises": ("exercises", Exercise),
    "progressions": ("progressions", Progression),
    "protocols": ("protocols", Protocol),
}


def _record_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict):
        for key in ("slug", "easier"):
            if isinstance(raw.get(key), str):
                extra = f" -> {raw['harder']}" if key == "easier" and "harder" in raw else ""
                return f"record {index} ({raw[key]}{extra})"
    return f"record {index}"


# libyaml's parser where PyYAML was built with it (PyPI's wheels are): the same documents,
# read about six times faster (0.17 s against 1.0 s for the whole catalogue).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_file(path: Path, model: type[T]) -> list[T]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise ContentError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, list):
        raise ContentError(f"{path.name}: the file must hold a list of records")
    records: list[T] = []
    for index, item in enumerate(raw, start=1):
        try:
            records.append(model.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(record)'}: {err['msg']}" for err in exc.errors()
            )
            raise ContentError(f"{path.name}: {_record_label(item, index)}: {problems}") from exc
    return records


def _paths(data_dir: Path, stem: str) -> list[Path]:
    """``stem.yaml`` and/or every ``stem/*.yaml``, in name order."""
    paths = [data_dir / f"{stem}.yaml"] if (data_dir / f"{stem}.yaml").exists() else []
    if (data_dir / stem).is_dir():
        paths += sorted((data_dir / stem).glob("*.yaml"))
    return paths


def load_catalogue(data_dir: Path = DATA_DIR) -> Catalogue:
    """Read and validate every data file; raise :class:`ContentError` naming the culprit."""
    parts: dict[str, list[Any]] = {}
    for stem, (field_name, model) in FILES.items():
        paths = _paths(data_dir, stem)
        if not paths:
            raise ContentError(f"{stem}.yaml: missing from {data_dir}")
        parts[field_name] = [rec for path in paths for rec in _load_file(path, model)]
    catalogue = Catalogue(**parts)
    check_references(catalogue)
    return catalogue


def _duplicates(kind: str, slugs: Iterable[str]) -> list[str]:
    return [f"{kind} '{slug}' is defined twice" for slug, n in Counter(slugs).items() if n > 1]


def check_references(cat: Catalogue) -> None:
    """Every slug named anywhere must resolve; raise :class:`ContentError` listing all that do not."""
    problems: list[str] = []
    problems += _duplicates("source", (s.slug for s in cat.sources))
    problems += _duplicates("muscle", (m.slug for m in cat.muscles))
    problems += _duplicates("structure", (s.slug for s in cat.structures))
    problems += _duplicates("phase", (p.slug for p in cat.phases))
    problems += _duplicates("equipment", (e.slug for e in cat.equipment))
    problems += _duplicates("injury", (i.slug for i in cat.injuries))
    problems += _duplicates("exercise", (e.slug for e in cat.exercises))
    problems += _duplicates("protocol", (p.slug for p in cat.protocols))
    problems += _duplicates("progression", (f"{p.easier}->{p.harder}" for p in cat.progressions))

    sources = {s.slug for s in cat.sources}
    muscles = {m.slug: m for m in cat.muscles}
    structures = {s.slug for s in cat.structures}
    phases = {p.slug for p in cat.phases}
    equipment = {e.slug for e in cat.equipment}
    injuries = {i.slug for i in cat.injuries}
    exercises = {e.slug for e in cat.exercises}

    def need(where: str, kind: str, slugs: Iterable[str], known: Iterable[str]) -> None:
        known_set = set(known)
        problems.extend(f"{where}: unknown {kind} '{s}'" for s in slugs if s not in known_set)

    def sourced(where: str, record: Any) -> None:
        need(where, "source", record.sources, sources)

    for m in cat.muscles:
        where = f"muscles.yaml: {m.slug}"
        sourced(where, m)
        if m.group is not None:
            parent = muscles.get(m.group)
            if parent is None or parent.kind is not MuscleKind.group:
                problems.append(f"{where}: group '{m.group}' is not a muscle group")
        need(where, "phase", (r.phase for r in m.phase_roles), phases)
    for s in cat.structures:
        where = f"structures.yaml: {s.slug}"
        sourced(where, s)
        need(where, "muscle", s.muscles, muscles)
        for fig in s.loads:
            sourced(where, fig)
    for p in cat.phases:
        sourced(f"phases.yaml: {p.slug}", p)
    for e in cat.equipment:
        sourced(f"equipment.yaml: {e.slug}", e)
    for i in cat.injuries:
        where = f"injuries.yaml: {i.slug}"
        sourced(where, i)
        need(where, "muscle", i.weak_muscles, muscles)
        need(where, "structure", i.structures, structures)
        need(where, "exercise", i.exercises, exercises)
        if i.parent is not None:
            need(where, "injury", [i.parent], injuries)
    for x in cat.exercises:
        where = f"exercises: {x.slug}"
        sourced(where, x)
        need(where, "muscle", [*x.primary_muscles, *x.secondary_muscles], muscles)
        need(where, "equipment", x.equipment, equipment)
        need(where, "source", x.dose.sources, sources)
        if x.achilles_load is not None:
            need(where, "source", x.achilles_load.sources, sources)
    for edge in cat.progressions:
        where = f"progressions.yaml: {edge.easier} -> {edge.harder}"
        sourced(where, edge)
        need(where, "exercise", [edge.easier, edge.harder], exercises)
        if edge.easier == edge.harder:
            problems.append(f"{where}: an exercise cannot progress to itself")
        need(where, "source", (c.source for c in [*edge.progress_criteria, *edge.regress_criteria]), sources)
    for proto in cat.protocols:
        where = f"protocols.yaml: {proto.slug}"
        sourced(where, proto)
        for outcome in proto.outcomes:
            sourced(where, outcome)
        need(where, "source", (c.source for c in proto.regress_criteria), sources)
        for stage in proto.stages:
            need(f"{where}/{stage.slug}", "source", (c.source for c in [*stage.entry, *stage.exit]), sources)
            need(
                f"{where}/{stage.slug}",
                "exercise",
                (p.exercise for p in stage.prescriptions),
                exercises,
            )

    cycle = find_cycle({(e.easier, e.harder) for e in cat.progressions})
    if cycle:
        problems.append("progressions.yaml: the graph has a cycle: " + " -> ".join(cycle))
    if problems:
        raise ContentError("catalogue references do not resolve:\n  " + "\n  ".join(problems))


def find_cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    """Return one cycle of a directed graph as a path of slugs, or None if it is acyclic."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
    white, grey, black = 0, 1, 2
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in graph.get(node, []):
            state = colour.get(nxt, white)
            if state == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if state == white and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = black
        return None

    for start in sorted(graph):
        if colour.get(start, white) == white and (found := visit(start)):
            return found
    return None
