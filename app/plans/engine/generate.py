"""Profile + catalogue + start date -> a plan. Pure and deterministic: the same input
always gives the same plan. Protocol doses come from the catalogue's protocol records
(Beyer's heavy slow resistance table, Silbernagel's phases, Alfredson), so the data and
the engine cannot disagree; the rules of docs/evidence.md are encoded here."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from app.catalogue.content import Catalogue, Exercise, LoadingType, Prescription, Protocol, ProtocolStage, Range
from app.plans.engine.model import (
    Load,
    PlanDraft,
    PlanItem,
    PlanKind,
    PlanOptions,
    PlanProfile,
    PlanSessionDraft,
    PlanWeekDraft,
    ProtocolChoice,
    RunPrescription,
)

TENDON_MIN_WEEKS = 12
HSR_MACHINES = frozenset({"seated-calf-raise-machine", "leg-press-machine", "standing-calf-raise-machine"})
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SESSION_OFFSETS = {2: (0, 3), 3: (0, 2, 4), 7: (0, 1, 2, 3, 4, 5, 6)}
RUN_OFFSETS = (1, 5)  # two runs a week, away from the strength days
PAIN_ACCEPTABLE = 5  # Silbernagel 2007: above 5/10 is too much
HEEL_RAISE_NORMAL = 25  # Lunsford & Perry 1995
RESILIENCE_STAGES = ("strength-endurance", "basic-strength", "strength", "power")
PAIN_RULES = (
    "Pain during exercise: 0-2/10 is safe, 3-5/10 acceptable, above 5/10 too much (Silbernagel 2007).",
    "Pain and stiffness the next morning must settle to your usual level; if not, reduce the load.",
    "Pain and stiffness must not increase from week to week.",
)


class PlanError(ValueError):
    """The request cannot be planned (for example a protocol without its equipment)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Context:
    profile: PlanProfile
    catalogue: Catalogue
    options: PlanOptions
    start: dt.date

    @cached_property
    def exercises(self) -> dict[str, Exercise]:
        return {x.slug: x for x in self.catalogue.exercises}

    @cached_property
    def protocols(self) -> dict[str, Protocol]:
        return {p.slug: p for p in self.catalogue.protocols}

    @cached_property
    def easier(self) -> dict[str, list[str]]:
        edges: dict[str, list[str]] = {}
        for edge in sorted(self.catalogue.progressions, key=lambda e: (e.harder, e.easier)):
            edges.setdefault(edge.harder, []).append(edge.easier)
        return edges

    @cached_property
    def equipment(self) -> frozenset[str]:
        return frozenset(self.profile.equipment)

    @property
    def insertional(self) -> bool:
        return self.profile.achilles_pain_site == "insertional"

    @property
    def severe_pain(self) -> bool:
        return self.profile.achilles_pain > PAIN_ACCEPTABLE

    def allowed(self, slug: str) -> bool:
        """Doable with the athlete's equipment and safe for their pain."""
        exercise = self.exercises.get(slug)
        if exercise is None or not set(exercise.equipment) <= self.equipment:
            return False
        if self.severe_pain and exercise.loading_type is LoadingType.plyometric:
            return False
        # Insertional pain: nothing that lowers the heel below a step's level (Fahlström 2003).
        return not (self.insertional and "step" in exercise.equipment and _works_calves(exercise))

    def substitute(self, slug: str) -> str | None:
        """The exercise, or the nearest easier one the athlete can do (regressions first,
        then any exercise of the same loading type for the same muscles)."""
        seen, queue = {slug}, deque([slug])
        while queue:
            current = queue.popleft()
            if self.allowed(current):
                return current
            for easier in self.easier.get(current, []):
                if easier not in seen:
                    seen.add(easier)
                    queue.append(easier)
        wanted = self.exercises[slug]
        for candidate in sorted(
            self.exercises.values(), key=lambda x: (x.achilles_load.tier if x.achilles_load else 0, x.slug)
        ):
            if (
                candidate.loading_type == wanted.loading_type
                and set(candidate.primary_muscles) & set(wanted.primary_muscles)
                and self.allowed(candidate.slug)
            ):
                return candidate.slug
        return None


def _works_calves(exercise: Exercise) -> bool:
    return bool({"calves", "gastrocnemius", "soleus"} & set(exercise.primary_muscles))


# ---------------------------------------------------------------- items


_RM = re.compile(r"(\d+)\s*RM", re.IGNORECASE)
_PERCENT = re.compile(r"(\d+)\s*%\s*1RM", re.IGNORECASE)


def parse_load(text: str | None, exercise: Exercise) -> Load:
    text = (text or "").strip()
    if match := _RM.search(text):
        return Load(kind="rm", value=float(match.group(1)), text=text)
    if match := _PERCENT.search(text):
        return Load(kind="percent_1rm", value=float(match.group(1)), text=text)
    if text.lower().startswith("body weight"):  # e.g. "body weight; once pain-free, a backpack"
        return Load(kind="bodyweight", value=None, text=text)
    weighted = exercise.slug.startswith("weighted-") or any(
        word in text.lower() for word in ("added weight", "dumbbell", "backpack", "kettlebell")
    )
    if weighted:
        return Load(kind="added", value=None, text=text or "added weight")
    return Load(kind="bodyweight", value=None, text=text or "body weight")


def is_heavy(load: Load) -> bool:
    if load.kind == "rm":
        return True
    if load.kind == "percent_1rm":
        return (load.value or 0) >= 70
    return load.kind == "added"


def item_from(ctx: Context, p: Prescription, *, rule: str, rationale: str, sets: int | None = None) -> PlanItem | None:
    slug = ctx.substitute(p.exercise)
    if slug is None:
        return None
    exercise = ctx.exercises[slug]
    load = parse_load(p.load, exercise) if slug == p.exercise else parse_load(None, exercise)
    swapped = "" if slug == p.exercise else f" (instead of {ctx.exercises[p.exercise].name}: equipment or pain)"
    return PlanItem(
        exercise=slug,
        name=exercise.name,
        sets=sets if sets is not None else p.sets.max,
        reps=p.reps,
        hold_seconds=p.hold_seconds,
        duration_seconds=p.duration_seconds,
        per_side=p.per_side,
        tempo=p.tempo,
        rest_seconds=p.rest_seconds,
        load=load,
        heavy=is_heavy(load),
        rationale=rationale + swapped,
        rule=rule,
    )


def _unique(items: Iterable[PlanItem | None]) -> list[PlanItem]:
    seen: set[str] = set()
    kept = []
    for item in items:
        if item is not None and item.exercise not in seen:
            seen.add(item.exercise)
            kept.append(item)
    return kept


def session(
    ctx: Context,
    day: dt.date,
    kind: str,
    focus: str,
    items: Sequence[PlanItem],
    *,
    times: int = 1,
    run: RunPrescription | None = None,
    gate: str | None = None,
) -> PlanSessionDraft:
    return PlanSessionDraft(
        day=day,
        weekday=WEEKDAYS[day.weekday()],
        kind=kind,
        focus=focus,
        heavy=any(i.heavy and _works_calves(ctx.exercises[i.exercise]) for i in items),
        times_per_day=times,
        items=list(items),
        run=run,
        gate=gate,
    )


def stage_for(protocol: Protocol, week: int) -> ProtocolStage:
    stages = sorted(protocol.stages, key=lambda s: s.order)
    return next((s for s in stages if s.week_from <= week <= s.week_to), stages[-1])


# ---------------------------------------------------------------- plan kinds


def _weeks(ctx: Context, default: int, minimum: int = 1) -> int:
    if ctx.options.weeks is not None:
        return max(ctx.options.weeks, minimum)
    if ctx.profile.race_date is not None and ctx.profile.race_date > ctx.start:
        until_race = (ctx.profile.race_date - ctx.start).days // 7
        return max(minimum, min(max(until_race, 4), 24))
    return max(default, minimum)


def _heavy_slow_resistance(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    protocol = ctx.protocols["heavy-slow-resistance"]
    plan = []
    for number in range(1, weeks + 1):
        stage = stage_for(protocol, number)
        start = ctx.start + dt.timedelta(weeks=number - 1)
        items = _unique(
            item_from(ctx, p, rule="beyer-2015", rationale=f"Heavy slow resistance, {stage.name}: 3 s up, 3 s down.")
            for p in stage.prescriptions
        )
        sessions = [
            session(ctx, start + dt.timedelta(days=o), "tendon", f"Heavy slow resistance: {stage.name}", items)
            for o in SESSION_OFFSETS[3]
        ]
        plan.append(
            PlanWeekDraft(
                number=number, starts_on=start, stage=stage.name, lighter=False, taper=False, sessions=sessions
            )
        )
    return plan


def _alfredson(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    protocol = ctx.protocols["alfredson-eccentric"]
    stage = stage_for(protocol, 1)
    plan = []
    for number in range(1, weeks + 1):
        start = ctx.start + dt.timedelta(weeks=number - 1)
        items = _unique(
            item_from(
                ctx,
                p,
                rule="alfredson-1998",
                rationale="Alfredson eccentrics: continue with mild pain; add load once pain-free.",
            )
            for p in stage.prescriptions
        )
        sessions = [
            session(ctx, start + dt.timedelta(days=o), "tendon", "Alfredson eccentric heel drops", items, times=2)
            for o in SESSION_OFFSETS[7]
        ]
        plan.append(
            PlanWeekDraft(
                number=number, starts_on=start, stage=stage.name, lighter=False, taper=False, sessions=sessions
            )
        )
    return plan


def silbernagel_start_phase(profile: PlanProfile) -> int:
    """Entry criteria: fewer than 10 single-leg heel raises -> phase 1; pain -> phase 2; else 3."""
    if profile.single_leg_heel_raises is None or profile.single_leg_heel_raises < 10:
        return 1
    if profile.achilles_pain > 2:
        return 2
    return 3


def _silbernagel(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    protocol = ctx.protocols["silbernagel-pain-monitored"]
    phases = {s.order: s for s in protocol.stages}
    first = silbernagel_start_phase(ctx.profile)
    # Phase 1 for 2 weeks, phase 2 for 3, then phase 3: shifted by the starting phase.
    schedule = {1: 2, 2: 3}
    plan = []
    week_in = 0
    phase = first
    for number in range(1, weeks + 1):
        if phase in schedule and week_in >= schedule[phase]:
            phase, week_in = phase + 1, 0
        week_in += 1
        stage = phases[min(phase, 3)]
        start = ctx.start + dt.timedelta(weeks=number - 1)
        items = _unique(
            item_from(ctx, p, rule="silbernagel-2007", rationale=f"Silbernagel {stage.name}, pain-monitored.")
            for p in stage.prescriptions
        )
        if phase < 3:
            sessions = [
                session(ctx, start + dt.timedelta(days=o), "tendon", stage.name, items) for o in SESSION_OFFSETS[7]
            ]
        else:  # weighted work 3 days a week, never on consecutive days
            sessions = [
                session(ctx, start + dt.timedelta(days=o), "tendon", stage.name, items) for o in SESSION_OFFSETS[3]
            ]
        plan.append(
            PlanWeekDraft(
                number=number, starts_on=start, stage=stage.name, lighter=False, taper=False, sessions=sessions
            )
        )
    return plan


def _severe_pain_start(ctx: Context, plan: list[PlanWeekDraft]) -> list[PlanWeekDraft]:
    """Pain above 5/10: the first two weeks are isometric holds and slow seated raises."""
    holds = [
        Prescription(exercise="two-leg-calf-raise-hold", sets=Range(min=4, max=4), hold_seconds=Range(min=30, max=45)),
        Prescription(
            exercise="calf-raise-hold", sets=Range(min=3, max=3), hold_seconds=Range(min=30, max=45), per_side=True
        ),
        Prescription(exercise="seated-heel-raise", sets=Range(min=3, max=3), reps=Range(min=10, max=15), tempo="3-0-3"),
    ]
    items = _unique(
        item_from(
            ctx,
            p,
            rule="seed-004",
            rationale="Pain above 5/10: slow and isometric loading first, in a range that is tolerable.",
        )
        for p in holds
    )
    for week in plan[:2]:
        week.stage = "isometric start (pain above 5/10)"
        for s in week.sessions:
            s.items, s.heavy, s.focus = list(items), False, "Isometric holds and slow heel raises"
    return plan


KEY_SLOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (key muscle, candidates in order of preference) per seed 000's key muscles
    (
        "calves",
        ("weighted-one-leg-heel-raise", "standing-calf-raise-machine", "one-leg-heel-raise", "standing-calf-raise"),
    ),
    ("quadriceps", ("squat", "weighted-lunge", "single-leg-squat", "lunge")),
    ("hamstrings", ("deadlift", "kettlebell-swing", "stability-ball-hamstring-curl", "lying-leg-curl", "leg-lift")),
    ("gluteus-medius", ("clamshell", "side-lying-leg-raise", "crab-walk")),
    ("gluteus-maximus", ("weighted-hip-extension", "glute-bridge")),
)
STAGE_DOSE = {
    # stage: (sets, reps, load text, rest) after Blagrove 2018 and Bazyler 2015
    "strength-endurance": (2, Range(min=12, max=15), "about 60% 1RM, 3-4 reps in reserve", Range(min=60, max=90)),
    "basic-strength": (3, Range(min=8, max=10), "about 70% 1RM, 2-3 reps in reserve", Range(min=90, max=120)),
    "strength": (3, Range(min=5, max=6), "about 80% 1RM, 2 reps in reserve", Range(min=120, max=180)),
    "power": (3, Range(min=4, max=6), "about 80% 1RM, moved fast, 2-3 reps in reserve", Range(min=120, max=180)),
}


def _resilience_stage(week: int, weeks: int) -> str:
    return RESILIENCE_STAGES[min((week - 1) * len(RESILIENCE_STAGES) // weeks, len(RESILIENCE_STAGES) - 1)]


def _key_items(ctx: Context, stage: str, per_session: int) -> list[PlanItem]:
    sets, reps, load_text, rest = STAGE_DOSE[stage]
    items: list[PlanItem] = []
    for muscle, candidates in KEY_SLOTS[:per_session]:
        for chosen in candidates:  # each slot ends with exercises that need nothing
            if not ctx.allowed(chosen) or any(i.exercise == chosen for i in items):
                continue
            exercise = ctx.exercises[chosen]
            weighted = (
                bool(exercise.equipment)
                and any(e in exercise.equipment for e in ("barbell", "dumbbell", "kettlebell", "weighted-backpack"))
            ) or "machine" in ",".join(exercise.equipment)
            load = (
                Load(kind="percent_1rm", value=float(re.findall(r"\d+", load_text)[0]), text=load_text)
                if weighted
                else Load(kind="bodyweight", value=None, text=f"body weight, {load_text.split(', ', 1)[-1]}")
            )
            items.append(
                PlanItem(
                    exercise=chosen,
                    name=exercise.name,
                    sets=sets,
                    reps=reps,
                    hold_seconds=None,
                    duration_seconds=None,
                    per_side=exercise.laterality.value == "unilateral",
                    tempo=None,
                    rest_seconds=rest,
                    load=load,
                    heavy=is_heavy(load),
                    rationale=f"Key muscle for sparing the Achilles ({muscle}); {stage.replace('-', ' ')} phase.",
                    rule="blagrove-2018",
                )
            )
            break
    return _unique(items)


def _plyometric(ctx: Context, strength_sets: int) -> PlanItem | None:
    slug = ctx.substitute("double-leg-pogo-hop")
    if slug is None or ctx.exercises[slug].loading_type is not LoadingType.plyometric:
        return None
    sets = max(1, min(2, strength_sets - 1))  # always below the strength volume (seed 004)
    return PlanItem(
        exercise=slug,
        name=ctx.exercises[slug].name,
        sets=sets,
        reps=None,
        hold_seconds=None,
        duration_seconds=Range(min=20, max=20),
        per_side=False,
        tempo=None,
        rest_seconds=Range(min=60, max=90),
        load=Load(kind="bodyweight", value=None, text="body weight, quick quiet contacts"),
        heavy=False,
        rationale="Elastic loading for the tendon, kept below the strength volume.",
        rule="seed-004",
    )


def _resilience(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    per_session = 5 if ctx.profile.minutes_per_session >= 25 else 4
    offsets = SESSION_OFFSETS[ctx.profile.strength_sessions_per_week]
    plan = []
    for number in range(1, weeks + 1):
        stage = _resilience_stage(number, weeks)
        lighter = number % 4 == 0 and number != weeks
        items = _key_items(ctx, stage, per_session)
        if stage == "power" and (hop := _plyometric(ctx, sum(i.sets for i in items))):
            items.append(hop)
        if lighter:
            items = [_lighter(i) for i in items]
        start = ctx.start + dt.timedelta(weeks=number - 1)
        sessions = [
            session(ctx, start + dt.timedelta(days=o), "strength", f"Runner strength: {stage.replace('-', ' ')}", items)
            for o in offsets
        ]
        plan.append(
            PlanWeekDraft(number=number, starts_on=start, stage=stage, lighter=lighter, taper=False, sessions=sessions)
        )
    return plan


def _lighter(item: PlanItem) -> PlanItem:
    load = item.load if not item.heavy else Load(kind="rpe", value=6, text="lighter: about 60% 1RM")
    return item.model_copy(
        update={
            "sets": max(1, item.sets - 1),
            "load": load,
            "heavy": False,
            "rationale": item.rationale + " Lighter week (every fourth).",
        }
    )


def _return_to_run(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    plan = _silbernagel(ctx, weeks)
    ready = (ctx.profile.single_leg_heel_raises or 0) >= HEEL_RAISE_NORMAL and ctx.profile.achilles_pain <= 2
    first_run_week = 1 if ready else 5
    distance = max(2.0, round(min(5.0, ctx.profile.weekly_distance_km * 0.15), 1))
    gate = (
        f"Before the first run: {HEEL_RAISE_NORMAL} single-leg heel raises in a row and hop pain at most 2/10 "
        "(Lunsford & Perry 1995; return-to-run trial protocol)."
    )
    for week in plan:
        if week.number < first_run_week:
            continue
        runs_done = week.number - first_run_week
        lighter = runs_done > 0 and runs_done % 4 == 3
        if runs_done > 0 and not lighter:
            distance = round(distance * 1.2, 1)  # at most +20% a week
        for offset in RUN_OFFSETS:
            day = week.starts_on + dt.timedelta(days=offset)
            week.sessions.append(
                session(
                    ctx,
                    day,
                    "run",
                    "Easy run",
                    [],
                    run=RunPrescription(
                        distance_km=distance,
                        effort="easy, conversational; stop if pain passes 5/10",
                        rationale="Graded return: two runs a week, at most 20% more each week.",
                        rule="nutrients-2019-hop",
                    ),
                    gate=gate if week.number == first_run_week else None,
                )
            )
        week.sessions.sort(key=lambda s: (s.day, s.kind))
        week.lighter = week.lighter or lighter
    return plan


def _taper(ctx: Context, plan: list[PlanWeekDraft], *, continue_after_race: bool) -> list[PlanWeekDraft]:
    """Halve strength volume over the taper days, no heavy lifting in the final week, no
    session on race day. Tendon plans continue after the race (they need 12 weeks)."""
    race = ctx.profile.race_date
    if race is None or race < ctx.start:
        return plan
    taper_from = race - dt.timedelta(days=ctx.options.taper_days)
    final_week = race - dt.timedelta(days=7)
    for week in plan:
        week.sessions = [s for s in week.sessions if s.day < race or (continue_after_race and s.day > race)]
        for s in week.sessions:
            if not taper_from <= s.day < race or s.kind == "run":
                continue
            week.taper = True
            items = [
                i.model_copy(
                    update={"sets": max(1, (i.sets + 1) // 2), "rationale": i.rationale + " Taper: half the sets."}
                )
                for i in s.items
            ]
            if s.day >= final_week and ctx.options.heavy_free_final_week:
                items = [_lighter(i) if i.heavy else i for i in items]
            s.items, s.heavy = items, any(i.heavy for i in items)
    return [w for w in plan if w.sessions]


def choose_protocol(ctx: Context) -> str:
    choice = ctx.options.protocol
    if choice is ProtocolChoice.alfredson:
        return "alfredson-eccentric"
    if choice is ProtocolChoice.heavy_slow_resistance:
        missing = HSR_MACHINES - ctx.equipment
        if missing:
            raise PlanError("options.protocol", f"Heavy slow resistance needs {', '.join(sorted(missing))}.")
        return "heavy-slow-resistance"
    if choice is ProtocolChoice.silbernagel:
        return "silbernagel-pain-monitored"
    if ctx.equipment >= HSR_MACHINES and not ctx.severe_pain:
        return "heavy-slow-resistance"
    return "silbernagel-pain-monitored"


def generate(
    profile: PlanProfile, catalogue: Catalogue, start: dt.date, kind: PlanKind, options: PlanOptions | None = None
) -> PlanDraft:
    """The plan for ``profile`` from ``start``."""
    ctx = Context(profile, catalogue, options or PlanOptions(), start)
    notes: list[str] = []
    sources: list[str] = []
    if kind is PlanKind.resilience:
        protocol = "runner-strength-guidance"
        weeks = _resilience(ctx, _weeks(ctx, 12))
        notes.append(
            "Key muscles every week (calves, quadriceps, hamstrings, gluteus medius and maximus); strength-"
            "endurance, then strength, then power; plyometric volume stays below strength volume."
        )
        sources += ["seed-000", "blagrove-2018", "bazyler-2015", "seed-004"]
    elif kind is PlanKind.achilles:
        protocol = choose_protocol(ctx)
        length = _weeks(ctx, TENDON_MIN_WEEKS, TENDON_MIN_WEEKS)
        weeks = {
            "heavy-slow-resistance": _heavy_slow_resistance,
            "alfredson-eccentric": _alfredson,
            "silbernagel-pain-monitored": _silbernagel,
        }[protocol](ctx, length)
        sources += {
            "heavy-slow-resistance": ["beyer-2015"],
            "alfredson-eccentric": ["alfredson-1998"],
            "silbernagel-pain-monitored": ["silbernagel-2007"],
        }[protocol]
        if protocol == "silbernagel-pain-monitored":
            notes.append(f"Silbernagel phase {silbernagel_start_phase(profile)} to start, from the entry criteria.")
        notes.append("Tendons adapt slowly: keep loading for 12 weeks or more (Bohm 2015).")
        sources.append("bohm-2015")
    else:
        protocol = "silbernagel-pain-monitored"
        weeks = _return_to_run(ctx, _weeks(ctx, TENDON_MIN_WEEKS, TENDON_MIN_WEEKS))
        notes.append("Running returns when heel-raise endurance and hop pain allow, then grows at most 20% a week.")
        sources += ["silbernagel-2007", "lunsford-perry-1995", "nutrients-2019-hop"]
    if ctx.insertional:
        notes.append(
            "Insertional pain: no heel drops below the level of a step; floor-level work instead (Fahlström 2003)."
        )
        sources.append("fahlstrom-2003")
    if ctx.severe_pain:
        weeks = _severe_pain_start(ctx, weeks)
        notes.append("Pain above 5/10: no plyometrics; isometric and slow work first.")
    weeks = _taper(ctx, weeks, continue_after_race=kind is not PlanKind.resilience)
    if profile.race_date is not None:
        notes.append(
            f"Race on {profile.race_date.isoformat()}: strength tapers over the last {ctx.options.taper_days} days"
            + (", with no heavy lifting in the final week." if ctx.options.heavy_free_final_week else ".")
        )
    notes += PAIN_RULES
    sources.append("silbernagel-2007")
    return PlanDraft(
        kind=kind, protocol=protocol, start_date=start, weeks=weeks, notes=notes, sources=sorted(set(sources))
    )
