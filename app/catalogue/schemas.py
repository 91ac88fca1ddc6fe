"""Public shapes of catalogue records (what the API returns)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
    SourceKind,
)

SOURCES = Field(
    description="Slugs of the sources (seed articles, studies) the facts come from; see /v1/sources.",
    examples=[["seed-004", "silbernagel-2007"]],
)


class PublicModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Ref(PublicModel):
    """A link to another catalogue record."""

    # Frozen: one is shared by every answer that links to the same record (:func:`ref`).
    model_config = ConfigDict(from_attributes=True, frozen=True)

    slug: str = Field(description="The record's stable identifier.", examples=["soleus"])
    name: str = Field(description="Its display name.", examples=["Soleus"])


_REFS: dict[tuple[str, str], Ref] = {}
_REFS_KEPT = 4096  # a catalogue links a few hundred records; a renamed one adds a link


def ref(slug: str, name: str) -> Ref:
    """The link to ``slug`` named ``name``, made once and then shared. A page of 20
    exercises carries a few hundred links, mostly to the same muscles and equipment;
    making one costs about 1.1 us, finding a made one under 0.1 us. Past ``_REFS_KEPT``
    links they are all made again."""
    key = (slug, name)
    made = _REFS.get(key)
    if made is None:
        if len(_REFS) >= _REFS_KEPT:
            _REFS.clear()
        made = _REFS[key] = Ref(slug=slug, name=name)
    return made


class SourcePublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["beyer-2015"])
    kind: SourceKind = Field(
        description="seed: an article runstrong was built from; evidence: a study; editorial: a runstrong default."
    )
    title: str = Field(description="Title of the article or study.")
    citation: str = Field(description="Bibliographic citation.")
    file: str | None = Field(description="For seeds: the article's file name.")
    evidence_section: str | None = Field(description="For studies: the section of the evidence summary that uses it.")


class PhaseRolePublic(PublicModel):
    phase: Ref = Field(description="The running phase.")
    role: str = Field(description="What the muscle does in that phase.")


class MusclePublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["gluteus-medius"])
    name: str = Field(description="Display name.", examples=["Gluteus medius"])
    kind: MuscleKind = Field(description="group: a muscle group; muscle: an individual muscle within a group.")
    group: Ref | None = Field(description="For an individual muscle: its group.")
    members: list[Ref] = Field(description="For a group: its individual muscles.")
    synonyms: list[str] = Field(description="Other names, abbreviations and lay terms.", examples=[["glute med"]])
    body_region: BodyRegion = Field(description="Where in the body it lies.")
    description: str = Field(description="What and where it is.")
    actions: list[str] = Field(description="Joint actions it produces.", examples=[["hip-abduction"]])
    phase_roles: list[PhaseRolePublic] = Field(description="Its job in each running phase it works in.")
    weakness_effects: list[str] = Field(description="What weakness of it leads to in runners.")
    tightness_effects: list[str] = Field(description="What tightness of it leads to in runners.")
    key_for_achilles: bool = Field(
        description="One of the key muscles that spread running load away from the Achilles tendon."
    )
    injuries: list[Ref] = Field(description="Injuries its weakness or tightness relates to.")
    sources: list[str] = SOURCES


class PhaseMusclePublic(PublicModel):
    muscle: Ref = Field(description="A muscle working in this phase.")
    role: str = Field(description="What it does in this phase.")


class RunningPhasePublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["propulsion"])
    name: str = Field(description="Display name.", examples=["Propulsion (toe-off)"])
    order: int = Field(description="Position within the gait cycle, from 1.", examples=[2])
    part_of: str = Field(description="stance (foot on the ground) or swing (foot in the air).", examples=["stance"])
    synonyms: list[str] = Field(description="Other names for the phase.")
    description: str = Field(description="What happens in the phase.")
    muscles: list[PhaseMusclePublic] = Field(description="The muscles that work in it and their roles.")
    sources: list[str] = SOURCES


class StructurePublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["achilles-tendon"])
    name: str = Field(description="Display name.", examples=["Achilles tendon"])
    kind: str = Field(description="tendon, fascia, bone or ligament.", examples=["tendon"])
    synonyms: list[str] = Field(description="Other names.")
    body_region: BodyRegion = Field(description="Where in the body it lies.")
    description: str = Field(description="What and where it is.")
    function: str = Field(description="What it does in running.")
    muscles: list[Ref] = Field(description="Muscles that join it.")
    attaches_to: str | None = Field(description="The bone it attaches to, where one is named.")
    facts: list[str] = Field(description="Further facts about it.")
    loads: list[LoadFigure] = Field(
        description="Loads it bears, in multiples of body weight, with their sources; measured figures are flagged."
    )
    sources: list[str] = SOURCES


class EquipmentPublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["step"])
    name: str = Field(description="Display name.", examples=["Step or platform"])
    synonyms: list[str] = Field(description="Other names.")
    description: str = Field(description="What it is and what it is used for.")
    sources: list[str] = SOURCES


class InjuryPublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["insertional-achilles-tendinopathy"])
    name: str = Field(description="Display name.")
    synonyms: list[str] = Field(description="Other names.")
    parent: Ref | None = Field(description="The broader injury this is a form of.")
    children: list[Ref] = Field(description="More specific forms of this injury.")
    body_region: BodyRegion = Field(description="Where in the body it occurs.")
    description: str = Field(description="What it is.")
    weak_muscles: list[Ref] = Field(description="Muscles whose weakness or tightness relates to it.")
    structures: list[Ref] = Field(description="Structures it affects.")
    exercises: list[Ref] = Field(description="Exercises that help.")
    notes: list[str] = Field(description="Further facts: outcomes, risk factors, cautions.")
    sources: list[str] = SOURCES


class ExercisePublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["eccentric-heel-raise"])
    name: str = Field(description="Display name.", examples=["Eccentric heel raise"])
    synonyms: list[str] = Field(description="Other names, searched by `q`.")
    summary: str = Field(description="What it is and why a runner does it.")
    steps: list[str] = Field(description="How to do it, in order.")
    loading_type: LoadingType = Field(description="The kind of load it applies.")
    level: Level = Field(description="Who it suits.")
    laterality: Laterality = Field(
        description="bilateral (both sides at once), unilateral (one side at a time) or alternating."
    )
    primary_muscles: list[Ref] = Field(description="Muscles it mainly works.")
    secondary_muscles: list[Ref] = Field(description="Muscles that assist.")
    equipment: list[Ref] = Field(description="Equipment it requires; empty when none is needed.")
    dose: Dose = Field(description="The default dose, with its source.")
    cautions: list[str] = Field(description="When to take care or seek advice first.")
    achilles_load: AchillesLoad | None = Field(description="How hard it loads the Achilles tendon, where graded.")
    injuries: list[Ref] = Field(description="Injuries it helps with.")
    progressions: list[Ref] = Field(description="Harder exercises to move on to.")
    regressions: list[Ref] = Field(description="Easier exercises to step back to.")
    sources: list[str] = SOURCES


class ProgressionStep(PublicModel):
    exercise: Ref = Field(description="The exercise at the other end of the edge.")
    progress_when: str = Field(description="When to move from the easier to the harder exercise.")
    regress_when: str = Field(description="When to step back from the harder to the easier exercise.")
    progress_criteria: list[Criterion] = Field(description="The progress rule as data: all must hold.")
    regress_criteria: list[Criterion] = Field(description="The regress rule as data: any one is enough.")
    sources: list[str] = SOURCES


class ExerciseProgressions(PublicModel):
    exercise: Ref = Field(description="The exercise asked about.")
    progressions: list[ProgressionStep] = Field(description="Harder exercises, each with its criterion.")
    regressions: list[ProgressionStep] = Field(description="Easier exercises, each with its criterion.")


class ProgressionPublic(PublicModel):
    easier: Ref = Field(description="The easier exercise.")
    harder: Ref = Field(description="The harder exercise.")
    progress_when: str = Field(description="When to move from easier to harder.")
    regress_when: str = Field(description="When to step back from harder to easier.")
    progress_criteria: list[Criterion] = Field(description="The progress rule as data: all must hold.")
    regress_criteria: list[Criterion] = Field(description="The regress rule as data: any one is enough.")
    sources: list[str] = SOURCES


class ProtocolPublic(PublicModel):
    slug: str = Field(description="Stable identifier.", examples=["heavy-slow-resistance"])
    name: str = Field(description="Display name.")
    kind: str = Field(description="achilles-tendinopathy, tendon-conditioning or runner-strength.")
    summary: str = Field(description="What the protocol is.")
    frequency: str = Field(description="How often it is done.")
    duration_weeks: int | None = Field(description="Its length in weeks, where fixed.")
    pain_rules: list[str] = Field(description="How pain guides the load.")
    stages: list[ProtocolStage] = Field(description="Its stages (phases or week blocks) in order, with prescriptions.")
    regress_criteria: list[Criterion] = Field(description="The pain rules as data: any one steps a plan back.")
    outcomes: list[Outcome] = Field(description="Published outcomes worth knowing.")
    cautions: list[str] = Field(description="When to take care.")
    sources: list[str] = SOURCES
