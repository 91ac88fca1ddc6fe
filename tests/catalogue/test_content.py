"""The authored catalogue: everything the product promises is present and consistent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from app.catalogue.content import (
    DATA_DIR,
    Catalogue,
    ContentError,
    MuscleKind,
    find_cycle,
    load_catalogue,
)

SEED_FILES = sorted(p.name for p in (Path(__file__).resolve().parents[3] / "shared" / "seeds").glob("*.txt"))

GROUPS = {
    "quadriceps": {"rectus-femoris", "vastus-lateralis", "vastus-medialis", "vastus-intermedius"},
    "hamstrings": {
        "biceps-femoris-long-head",
        "biceps-femoris-short-head",
        "semitendinosus",
        "semimembranosus",
    },
    "gluteals": {"gluteus-maximus", "gluteus-medius", "gluteus-minimus"},
    "hip-flexors": {"iliopsoas", "psoas-major", "iliacus"},
    "calves": {"gastrocnemius", "soleus"},
    "tibialis-anterior": set(),
    "peroneals": {"peroneus-longus", "peroneus-brevis", "peroneus-tertius"},
    "tensor-fasciae-latae": set(),
    "flexor-hallucis": {"flexor-hallucis-brevis", "flexor-hallucis-longus"},
    "thoracic-diaphragm": set(),
    "core": {
        "rectus-abdominis",
        "external-obliques",
        "internal-obliques",
        "pelvic-floor",
        "erector-spinae",
        "multifidus",
    },
    "upper-body": {
        "latissimus-dorsi",
        "deltoids",
        "pectorals",
        "biceps-brachii",
        "triceps-brachii",
        "scalenes",
    },
}

# Every exercise the seeds describe or name, and the protocol exercises of evidence.md.
EXERCISES = [
    "heel-drop",
    "heel-raise-tennis-ball",
    "achilles-band-stretch",
    "single-leg-shoulder-press",
    "single-leg-balance",
    "seated-calf-raise-machine",
    "leg-press-calf-raise",
    "calf-raise-hold",
    "eccentric-heel-raise",
    "double-leg-pogo-hop",
    "leg-extension",
    "leg-lift",
    "weighted-lunge",
    "squat",
    "sumo-squat",
    "walking-lunge",
    "deadlift",
    "lying-leg-curl",
    "clamshell",
    "glute-bridge",
    "weighted-hip-extension",
    "runners-lunge",
    "skater-squat",
    "pigeon-pose",
    "butterfly-stretch",
    "calf-stretch",
    "farmers-walk-on-toes",
    "toe-lunge",
    "jump-rope",
    "dumbbell-jump-squat",
    "band-eversion",
    "band-inversion",
    "heel-walk",
    "hip-hitch",
    "side-lying-leg-raise",
    "crab-walk",
    "single-leg-squat",
    "standing-tfl-stretch",
    "toe-grip",
    "toe-walk",
    "toe-tap",
    "dorsiflexion-stretch",
    "band-dorsiflexion",
    "diaphragmatic-breathing",
    "plank",
    "russian-twist",
    "crunch",
    "kettlebell-swing",
    "push-up",
    "pull-up",
    "shoulder-press",
    "bicep-curl",
    "hammer-curl",
    "back-fly",
    "bird-dog",
    "stability-ball-hamstring-curl",
    "hill-running",
    "standing-calf-raise",
    "band-toe-flexion",
    "lunge",
    "hip-flexor-stretch",
    "eccentric-heel-drop-straight-knee",
    "eccentric-heel-drop-bent-knee",
    "quick-rebound-heel-raise",
    "seated-heel-raise",
    "standing-calf-raise-machine",
    "two-leg-heel-raise",
    "one-leg-heel-raise",
    "two-leg-heel-raise-step",
    "one-leg-heel-raise-step",
    "weighted-one-leg-heel-raise",
    "eccentric-heel-raise-floor",
    "weighted-eccentric-heel-raise",
    "two-leg-calf-raise-hold",
    "weighted-calf-raise-hold",
    "single-leg-pogo-hop",
    "single-leg-forward-hop",
]

INJURIES = [
    "achilles-tendinopathy",
    "mid-portion-achilles-tendinopathy",
    "insertional-achilles-tendinopathy",
    "patellofemoral-pain",
    "runners-knee",
    "iliotibial-band-syndrome",
    "shin-splints",
    "stress-fracture",
    "plantar-fasciitis",
    "hamstring-strain",
    "calf-strain",
    "peroneal-tendinopathy",
    "meniscus-injury",
    "ankle-instability",
    "low-back-pain",
]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


def test_every_muscle_group_has_its_members(cat: Catalogue) -> None:
    muscles = {m.slug: m for m in cat.muscles}
    for group, members in GROUPS.items():
        assert muscles[group].kind is MuscleKind.group, group
        found = {m.slug for m in cat.muscles if m.group == group}
        assert members <= found, f"{group} lacks {members - found}"


def test_key_muscles_for_the_achilles_are_seed_000s(cat: Catalogue) -> None:
    key = {m.slug for m in cat.muscles if m.key_for_achilles}
    assert {"calves", "quadriceps", "hamstrings", "gluteus-medius", "gluteus-maximus"} <= key
    assert key <= {
        "calves",
        "gastrocnemius",
        "soleus",
        "quadriceps",
        "hamstrings",
        "gluteus-medius",
        "gluteus-maximus",
    }
    assert all("seed-000" in m.sources for m in cat.muscles if m.key_for_achilles)


def test_every_named_exercise_exists_with_instructions_and_a_primary_muscle(cat: Catalogue) -> None:
    exercises = {x.slug: x for x in cat.exercises}
    missing = [slug for slug in EXERCISES if slug not in exercises]
    assert not missing
    for x in cat.exercises:
        assert len(x.steps) >= 2 and x.primary_muscles, x.slug


def test_every_named_injury_exists(cat: Catalogue) -> None:
    injuries = {i.slug: i for i in cat.injuries}
    assert set(INJURIES) <= set(injuries)
    assert injuries["insertional-achilles-tendinopathy"].parent == "achilles-tendinopathy"
    assert injuries["mid-portion-achilles-tendinopathy"].parent == "achilles-tendinopathy"


def test_insertional_pain_gets_no_drop_below_the_step(cat: Catalogue) -> None:
    insertional = next(i for i in cat.injuries if i.slug == "insertional-achilles-tendinopathy")
    below_step = {"eccentric-heel-drop-straight-knee", "eccentric-heel-drop-bent-knee", "heel-drop"}
    assert not below_step & set(insertional.exercises)


def test_structures_and_phases(cat: Catalogue) -> None:
    structures = {s.slug: s for s in cat.structures}
    achilles = structures["achilles-tendon"]
    assert {"gastrocnemius", "soleus"} <= set(achilles.muscles)
    assert any(f.measured for f in achilles.loads) and any(not f.measured for f in achilles.loads)
    assert "iliotibial-band" in structures
    assert [p.slug for p in sorted(cat.phases, key=lambda p: p.order)] == [
        "stance",
        "propulsion",
        "swing",
    ]


def test_heavy_slow_resistance_matches_beyers_table(cat: Catalogue) -> None:
    hsr = next(p for p in cat.protocols if p.slug == "heavy-slow-resistance")
    table = [
        (1, 1, 3, "15RM"),
        (2, 3, 3, "12RM"),
        (4, 5, 4, "10RM"),
        (6, 8, 4, "8RM"),
        (9, 12, 4, "6RM"),
    ]
    stages = sorted(hsr.stages, key=lambda s: s.order)
    assert len(stages) == len(table)
    for stage, (first, last, sets, rm) in zip(stages, table, strict=True):
        assert (stage.week_from, stage.week_to) == (first, last)
        assert stage.prescriptions
        for p in stage.prescriptions:
            assert p.sets.min == p.sets.max == sets
            assert p.load is not None and rm in p.load.replace(" ", "")


def test_progressions_join_existing_exercises_without_cycles(cat: Catalogue) -> None:
    slugs = {x.slug for x in cat.exercises}
    edges = {(e.easier, e.harder) for e in cat.progressions}
    assert edges and all(a in slugs and b in slugs for a, b in edges)
    assert find_cycle(edges) is None
    assert ("two-leg-heel-raise", "one-leg-heel-raise") in edges
    assert ("two-leg-calf-raise-hold", "calf-raise-hold") in edges
    assert ("double-leg-pogo-hop", "single-leg-pogo-hop") in edges


def test_find_cycle_reports_a_cycle() -> None:
    assert find_cycle({("a", "b"), ("b", "c"), ("c", "a")}) == ["a", "b", "c", "a"]
    assert find_cycle({("a", "b"), ("a", "c"), ("b", "c")}) is None


def test_every_seed_is_cited_and_every_citation_resolves(cat: Catalogue) -> None:
    seeds = {s.file for s in cat.sources if s.kind == "seed"}
    assert len(SEED_FILES) == 5 and seeds == set(SEED_FILES)
    cited = {src for x in cat.exercises for src in x.sources} | {src for m in cat.muscles for src in m.sources}
    assert {"seed-000", "seed-001", "seed-002", "seed-003", "seed-004"} <= cited


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(path: Path, edit: object) -> None:
    records = yaml.safe_load(path.read_text())
    assert callable(edit)
    edit(records)
    path.write_text(yaml.safe_dump(records, sort_keys=False))


def test_a_broken_record_is_named_with_its_file(data_copy: Path) -> None:
    def drop_steps(records: list[dict[str, object]]) -> None:
        records[0]["steps"] = []

    path = data_copy / "exercises" / "hip-thigh.yaml"
    _edit(path, drop_steps)
    first = yaml.safe_load(path.read_text())[0]["slug"]
    with pytest.raises(ContentError, match=rf"hip-thigh.yaml: record 1 \({first}\): steps"):
        load_catalogue(data_copy)


def test_an_unknown_reference_is_named(data_copy: Path) -> None:
    def bad_muscle(records: list[dict[str, object]]) -> None:
        records[0]["primary_muscles"] = ["no-such-muscle"]

    _edit(data_copy / "exercises" / "trunk-upper.yaml", bad_muscle)
    with pytest.raises(ContentError, match="unknown muscle 'no-such-muscle'"):
        load_catalogue(data_copy)


def test_a_progression_cycle_is_refused(data_copy: Path) -> None:
    def add_cycle(records: list[dict[str, object]]) -> None:
        records.append(
            {
                "easier": "one-leg-heel-raise",
                "harder": "two-leg-heel-raise",
                "progress_when": "never mind",
                "regress_when": "never mind",
                "sources": ["runstrong-default"],
            }
        )

    _edit(data_copy / "progressions.yaml", add_cycle)
    with pytest.raises(ContentError, match="cycle"):
        load_catalogue(data_copy)


def test_invalid_yaml_names_the_file(data_copy: Path) -> None:
    (data_copy / "phases.yaml").write_text("- slug: [unclosed\n")
    with pytest.raises(ContentError, match=r"phases.yaml: not valid YAML"):
        load_catalogue(data_copy)
