"""Strength for healthy runners (docs/evidence.md section 4).

- The five key muscles of seed 000 (calves, quadriceps, hamstrings, gluteus medius and
  maximus) in every session, whatever its length: a short session gets fewer sets, never
  fewer muscles.
- Load what can be loaded: the loaded variant of each slot when the equipment allows it,
  dosed in %1RM with reps in reserve; body-weight work progresses to a harder variant (two
  legs to one, floor to step, then a slower tempo) rather than to fewer repetitions, and is
  never dosed "near failure" (ACSM 2009).
- Stage doses (sets, reps, %1RM) come from the runner-strength-guidance protocol record, so
  the data and the engine cannot disagree.
- The season follows the race: preparation (strength endurance, basic strength, strength,
  power; Bazyler 2015), in-season maintenance at 1-2 sessions (Rønnestad 2010), a light
  taper, recovery after the race. Nothing new and no first plyometric in the last
  ``no_new_exercise_days`` before the race, nothing heavy in the last ``heavy_free_days``
  (practice, not trial-tested: PlanOptions settings).
- Sessions go around the running week: never heavy the day before a long or hard run;
  preferably on a hard-run day or the day after an easy run.
- Past injuries add the matching prehab exercise from the catalogue's injury records.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import combinations

from app.catalogue.content import Exercise, Level, LoadingType, Prescription, ProtocolStage, Range
from app.core.schemas import WEEKDAY_NAMES, Weekday
from app.plans.engine.context import RESILIENCE_STAGES, WEEKDAYS, Context, is_heavy, parse_load
from app.plans.engine.model import Load, PlanItem, PlanSessionDraft, PlanWeekDraft

PROTOCOL = "runner-strength-guidance"
KEY_MUSCLES = ("calves", "quadriceps", "hamstrings", "gluteus-medius", "gluteus-maximus")
MUSCLE_COVER = {  # what counts as working a key muscle (a group counts for its members)
    "calves": {"calves", "gastrocnemius", "soleus"},
    "quadriceps": {"quadriceps"},
    "hamstrings": {"hamstrings"},
    "gluteus-medius": {"gluteus-medius", "gluteals"},
    "gluteus-maximus": {"gluteus-maximus", "gluteals"},
}
EXTERNAL_LOAD = ("barbell", "dumbbell", "kettlebell", "weighted-backpack", "machine")
MAINTENANCE, TAPER, RECOVERY = "in-season-maintenance", "race-taper", "recovery"
MAINTENANCE_WEEKS = 2  # before the taper, when the race is far enough away (runstrong default)
STAGE_WEIGHTS = {"new": (2, 2, 1, 1), "intermediate": (1, 1, 1, 1), "advanced": (1, 1, 1, 1)}
RESERVE = {  # reps in reserve on the Zourdos 2016 scale (runstrong defaults within Blagrove's "not to failure")
    "strength-endurance": "3-4 reps in reserve",
    "basic-strength": "2-3 reps in reserve",
    "strength": "2 reps in reserve",
    "power": "2-3 reps in reserve, each repetition lifted with fast intent",
    MAINTENANCE: "2-3 reps in reserve",
    TAPER: "4 or more reps in reserve",
    RECOVERY: "4 or more reps in reserve",
}
FAST_INTENT_SLOTS = {"quadriceps", "hamstrings", "gluteus-maximus"}
SLOW_TEMPO = "4-1-1"
PAIN_HOLD, PAIN_WEEKS = "two-leg-calf-raise-hold", 2  # Achilles pain above 5/10: isometric calves first


@dataclass(frozen=True)
class Slot:
    muscle: str
    loaded: tuple[str, ...]  # variants with external load, preferred first
    ladder: tuple[str, ...]  # body-weight variants, easier to harder; the first needs nothing
    accessory: bool = False  # small-muscle work: never heavy, never "moved fast"


SLOTS = (
    Slot(
        "calves",
        ("weighted-one-leg-heel-raise", "dumbbell-one-leg-heel-raise", "standing-calf-raise-machine"),
        ("two-leg-heel-raise", "one-leg-heel-raise", "one-leg-heel-raise-step"),
    ),
    Slot(
        "quadriceps",
        ("barbell-back-squat", "goblet-squat", "weighted-step-up", "weighted-lunge"),
        ("squat", "lunge", "step-up", "single-leg-squat"),
    ),
    Slot(
        "hamstrings",
        ("romanian-deadlift", "deadlift", "dumbbell-romanian-deadlift", "lying-leg-curl"),
        ("leg-lift", "single-leg-romanian-deadlift"),
    ),
    Slot("gluteus-medius", (), ("side-lying-leg-raise", "clamshell", "hip-hitch", "crab-walk"), accessory=True),
    Slot(
        "gluteus-maximus", ("barbell-hip-thrust", "weighted-hip-extension"), ("glute-bridge", "single-leg-glute-bridge")
    ),
)


def loaded(exercise: Exercise) -> bool:
    """Carries external load that can be dosed in %1RM."""
    return any(any(word in e for word in EXTERNAL_LOAD) for e in exercise.equipment)


# ---------------------------------------------------------------- the season


def stage_record(ctx: Context, slug: str) -> ProtocolStage:
    return next(s for s in ctx.protocols[PROTOCOL].stages if s.slug == slug)


def main_prescription(stage: ProtocolStage) -> Prescription:
    """The stage's main lift (the first prescription dosed in %1RM): its sets, reps and load
    dose every loaded item of the stage."""
    return next(p for p in stage.prescriptions if p.load and "1RM" in p.load)


@lru_cache(maxsize=64)
def percent_of(text: str) -> float:
    numbers = [float(n) for n in re.findall(r"(\d+)(?=\s*%|\s*-\s*\d+\s*%)", text)]
    return round(sum(numbers) / len(numbers)) if numbers else 60.0


@dataclass
class Season:
    stages: list[str]  # per week
    taper_from: dt.date | None
    window_from: dt.date | None  # nothing new from here
    heavy_free_from: dt.date | None
    race: dt.date | None
    recovery_until: dt.date | None


def season(ctx: Context, weeks: int) -> Season:
    race = ctx.profile.race_date if ctx.profile.race_date and ctx.profile.race_date > ctx.start else None
    opts = ctx.options
    starts = [ctx.start + dt.timedelta(weeks=n) for n in range(weeks)]
    if race is None:
        return Season(_preparation(ctx, weeks), None, None, None, None, None)
    taper_from = race - dt.timedelta(days=opts.taper_days)
    recovery_until = race + dt.timedelta(days=opts.recovery_days)
    before = [s for s in starts if s + dt.timedelta(days=6) < taper_from]  # weeks wholly before the taper
    maintenance = MAINTENANCE_WEEKS if len(before) >= 6 else 0
    prep = _preparation(ctx, max(len(before) - maintenance, 0))
    stages = []
    for index, start in enumerate(starts):
        if start > race:
            stages.append(RECOVERY if start <= recovery_until else MAINTENANCE)
        elif start + dt.timedelta(days=6) >= taper_from:
            stages.append(TAPER)
        elif index < len(prep):
            stages.append(prep[index])
        else:
            stages.append(MAINTENANCE)
    return Season(
        stages,
        taper_from,
        race - dt.timedelta(days=opts.no_new_exercise_days),
        race - dt.timedelta(days=opts.heavy_free_days),
        race,
        recovery_until,
    )


def _preparation(ctx: Context, weeks: int) -> list[str]:
    """Strength endurance, basic strength, strength, power, spread over the weeks; new
    runners stay longer in the early stages. Short preparations keep the early stages."""
    weights = STAGE_WEIGHTS[ctx.profile.experience]
    total = sum(weights)
    stages = []
    for i in range(weeks):
        share = i / weeks
        cumulative = 0
        for stage, weight in zip(RESILIENCE_STAGES, weights, strict=True):
            cumulative += weight
            if cumulative / total > share:
                stages.append(stage)
                break
    if weeks < len(RESILIENCE_STAGES):
        stages = list(RESILIENCE_STAGES[:weeks])
    return stages


# ---------------------------------------------------------------- placement


def _weekday(name: Weekday | None) -> int | None:
    return None if name is None else WEEKDAY_NAMES.index(name)


def day_scores(ctx: Context) -> tuple[dict[int, int], set[int]]:
    """A score per weekday for a strength session, and the weekdays where it may not be heavy
    (the day before a long or hard run, and the long-run day itself)."""
    profile = ctx.profile
    long_day = _weekday(profile.long_run_day)
    hard = {WEEKDAY_NAMES.index(d) for d in profile.hard_run_days}
    running = {WEEKDAY_NAMES.index(d) for d in profile.running_days} | hard | ({long_day} - {None})
    scores: dict[int, int] = {}
    not_heavy: set[int] = set()
    for day in range(7):
        following, previous = (day + 1) % 7, (day - 1) % 7
        score = 0
        if following == long_day or following in hard or day == long_day:
            not_heavy.add(day)
            score -= 100
        if day in hard:
            score += 3  # keep hard days hard and easy days easy
        elif previous in running and previous not in hard and previous != long_day:
            score += 2  # the day after an easy run
        elif day not in running:
            score += 1
        if previous == long_day:
            score -= 1
        scores[day] = score
    return scores, not_heavy


def place(ctx: Context, count: int) -> list[int]:
    """The weekdays of ``count`` strength sessions: never two days in a row, best score,
    then the widest spacing, then the earliest days."""
    scores, _ = day_scores(ctx)

    def gaps(days: tuple[int, ...]) -> int:
        if len(days) == 1:
            return 7
        return min((b - a) % 7 for a, b in zip(days, (*days[1:], days[0]), strict=True))

    options = [c for c in combinations(range(7), count) if gaps(c) >= 2]
    best = max(options, key=lambda c: (sum(scores[d] for d in c), gaps(c), [-d for d in c]))
    return list(best)


def on_weekday(week_start: dt.date, weekday: int) -> dt.date:
    return week_start + dt.timedelta(days=(weekday - week_start.weekday()) % 7)


# ---------------------------------------------------------------- choosing and dosing


@dataclass
class Builder:
    ctx: Context
    season: Season
    seen: set[str] = field(default_factory=set)  # exercises met before the no-new window
    last: dict[str, tuple[str, bool]] = field(default_factory=dict)  # slot -> (variant, slower) met last
    top_percent: dict[str, float] = field(default_factory=dict)  # heaviest %1RM met before the window
    bodyweight_sets: dict[str, int] = field(default_factory=dict)  # slot -> most sets given so far
    memo: dict[tuple[str, int, int, bool, bool, bool], list[PlanItem]] = field(default_factory=dict)
    final: dict[tuple[str, int, int, bool, bool, bool, bool, bool, bool], list[PlanItem]] = field(default_factory=dict)

    @cached_property
    def has_load(self) -> bool:
        """Some key slot can carry external load with this runner's equipment."""
        return any(self.ctx.allowed(x) for slot in SLOTS for x in slot.loaded)

    def in_window(self, day: dt.date) -> bool:
        s = self.season
        return s.window_from is not None and s.race is not None and s.window_from <= day < s.race

    def choose(self, slot: Slot, level: int, stage: str, day: dt.date, early_pain: bool) -> tuple[str, bool]:
        """The slot's exercise, and whether it is the slow-tempo step past the ladder's end."""
        if slot.muscle in self.last and (self.in_window(day) or stage in (TAPER, RECOVERY)):
            return self.last[slot.muscle]  # nothing new near the race; keep what was met
        if early_pain and slot.muscle == "calves":
            return PAIN_HOLD, False
        ctx = self.ctx
        candidates = [s for s in slot.loaded if ctx.allowed(s)]
        if ctx.profile.experience == "new":
            candidates.sort(key=lambda s: ctx.exercises[s].level is not Level.beginner)
            if stage == RESILIENCE_STAGES[0]:
                candidates = []  # new runners learn the movements with body weight first
        if candidates:
            return candidates[0], False
        ladder = [s for s in slot.ladder if ctx.allowed(s)]
        below = [s for s in slot.ladder[: level + 1] if s in ladder]
        chosen = below[-1] if below else ladder[0]
        return chosen, level > slot.ladder.index(chosen)  # the wanted variant is out of reach: slow down

    def item(self, slot: Slot, stage: str, level: int, sets: int, day: dt.date, early_pain: bool) -> PlanItem:
        slug, slower = self.choose(slot, level, stage, day, early_pain)
        exercise = self.ctx.exercises[slug]
        if loaded(exercise) and not slot.accessory:
            item = self._loaded(slot, exercise, stage, sets, day)
        else:
            if stage in RESILIENCE_STAGES and not slot.accessory:  # body-weight volume never falls back
                sets = self.bodyweight_sets[slot.muscle] = max(sets, self.bodyweight_sets.get(slot.muscle, 0))
            item = self._bodyweight(slot, exercise, stage, sets, slower)
        if not self.in_window(day):
            self.seen.add(slug)
            self.last[slot.muscle] = (slug, slower)
            if item.load.kind == "percent_1rm" and item.load.value is not None:
                self.top_percent[slug] = max(self.top_percent.get(slug, 0), item.load.value)
        return item

    def _loaded(self, slot: Slot, exercise: Exercise, stage: str, sets: int, day: dt.date) -> PlanItem:
        record = main_prescription(stage_record(self.ctx, TAPER if stage == RECOVERY else stage))
        percent = percent_of(record.load or "")
        text = record.load or ""
        if self.in_window(day) and exercise.slug in self.top_percent and percent > self.top_percent[exercise.slug]:
            percent = self.top_percent[exercise.slug]  # no heavier load met for the first time near the race
            text = f"about {percent:g}% 1RM (no heavier than before)"
        reserve = RESERVE[stage]
        if stage == "power" and slot.muscle not in FAST_INTENT_SLOTS:
            reserve = RESERVE["basic-strength"]
        load = Load(kind="percent_1rm", value=float(percent), text=f"{text}, {reserve}")
        return PlanItem(
            exercise=exercise.slug,
            name=exercise.name,
            sets=sets,
            reps=record.reps,
            hold_seconds=None,
            duration_seconds=None,
            per_side=exercise.laterality.value == "unilateral",
            tempo=None,
            rest_seconds=Range(min=120, max=180) if percent >= 75 else Range(min=90, max=120),
            load=load,
            heavy=is_heavy(load),
            rationale=f"Key muscle ({slot.muscle}), loaded: {_stage_name(stage)}.",
            rule=_rule(stage, loaded_item=True),
        )

    def _bodyweight(self, slot: Slot, exercise: Exercise, stage: str, sets: int, slower: bool) -> PlanItem:
        dose = exercise.dose
        if slot.accessory:
            text = (dose.load or "body weight").split(";")[0]
        else:
            text = "body weight; when every set reaches the top of the range, move to the harder variant"
        tempo = SLOW_TEMPO if slower and not slot.accessory else dose.tempo
        if slot.accessory and tempo is None:
            tempo = "2-1-2"  # slow and controlled: hip abductors are trained for control, not speed
        light = stage in (TAPER, RECOVERY)
        reps = bodyweight_reps(exercise)
        if reps is not None and light:
            reps = Range(min=max(8, reps.min - 2), max=max(10, reps.max - 2))
        why = "slower tempo past the hardest variant" if slower else "harder variants replace fewer repetitions"
        return PlanItem(
            exercise=exercise.slug,
            name=exercise.name,
            sets=sets,
            reps=reps,
            hold_seconds=dose.hold_seconds if reps is None else None,
            duration_seconds=dose.duration_seconds if reps is None and dose.hold_seconds is None else None,
            per_side=dose.per_side or exercise.laterality.value == "unilateral",
            tempo=tempo,
            rest_seconds=Range(min=60, max=90),
            load=Load(kind="bodyweight", value=None, text=text),
            heavy=False,
            rationale=f"Key muscle ({slot.muscle}), body weight: {_stage_name(stage)}; {why} (ACSM 2009).",
            rule="acsm-2009" if not light else PROTOCOL,
        )


def body_weight_only(text: str) -> Load:
    """The body-weight part of a dose that goes on to added load ("body weight to start;
    then a dumbbell ... 60-80% 1RM, not to failure"): prehab keeps to body weight, so its
    text must not promise the loaded part."""
    first = text.split(";")[0].strip()
    return Load(kind="bodyweight", value=None, text=first if first.lower().startswith("body weight") else "body weight")


def bodyweight_reps(exercise: Exercise) -> Range | None:
    """Body weight is never dosed near failure: at least 8-12 repetitions (one leg) or 12-15 (two)."""
    reps = exercise.dose.reps
    if reps is None:
        return None
    one_leg = exercise.laterality.value != "bilateral"
    return Range(min=max(reps.min, 8 if one_leg else 12), max=max(reps.max, 12 if one_leg else 15))


def _stage_name(stage: str) -> str:
    return stage.replace("-", " ")


def _rule(stage: str, *, loaded_item: bool) -> str:
    if stage == MAINTENANCE:
        return "ronnestad-2010"
    if stage in (TAPER, RECOVERY):
        return PROTOCOL
    return "blagrove-2018" if loaded_item else "acsm-2009"


def plyometric(ctx: Context, sets: int) -> PlanItem | None:
    slug = "quick-rebound-heel-raise" if ctx.profile.experience == "new" else "double-leg-pogo-hop"
    slug = ctx.substitute(slug) or ""
    if not slug or ctx.exercises[slug].loading_type is not LoadingType.plyometric:
        return None
    return PlanItem(
        exercise=slug,
        name=ctx.exercises[slug].name,
        sets=sets,
        reps=Range(min=20, max=30),
        hold_seconds=None,
        duration_seconds=None,
        per_side=False,
        tempo=None,
        rest_seconds=Range(min=60, max=90),
        load=Load(kind="bodyweight", value=None, text="body weight; reps are ground contacts, quick and quiet"),
        heavy=False,
        rationale="Elastic loading for the tendon, in ground contacts, kept below the strength volume (seed 004).",
        rule="seed-004",
    )


def prehab(ctx: Context, taken: set[str]) -> list[PlanItem]:
    """One exercise per past injury (two at most), from the injury record's exercises: light,
    body-weight or band work the runner has the equipment for."""
    items: list[PlanItem] = []
    injuries = {i.slug: i for i in ctx.catalogue.injuries}
    for slug in sorted(ctx.profile.injury_history):
        injury = injuries.get(slug)
        if injury is None or len(items) >= 2:
            continue
        easiest_first = sorted(injury.exercises, key=lambda x: list(Level).index(ctx.exercises[x].level))
        for candidate in easiest_first:
            exercise = ctx.exercises[candidate]
            if (
                candidate in taken
                or exercise.loading_type not in (LoadingType.strength, LoadingType.isometric)
                or not ctx.allowed(candidate)
                or loaded(exercise)
                or any(i.exercise == candidate for i in items)
            ):
                continue
            dose = exercise.dose
            base = parse_load(dose.load, exercise)
            items.append(
                PlanItem(
                    exercise=candidate,
                    name=exercise.name,
                    sets=min(2, dose.sets.max),
                    reps=bodyweight_reps(exercise),
                    hold_seconds=dose.hold_seconds if dose.reps is None else None,
                    duration_seconds=dose.duration_seconds if dose.reps is None and dose.hold_seconds is None else None,
                    per_side=dose.per_side or exercise.laterality.value == "unilateral",
                    tempo=dose.tempo,
                    rest_seconds=Range(min=45, max=60),
                    load=base if base.kind == "bodyweight" else body_weight_only(base.text),
                    heavy=False,
                    rationale=f"Prehab after your past {injury.name.lower()}: "
                    f"{', '.join(m.replace('-', ' ') for m in exercise.primary_muscles)}.",
                    rule=injury.sources[0],
                )
            )
            break
    return items


# ---------------------------------------------------------------- the weeks


def sessions_per_week(ctx: Context, stage: str) -> int:
    wanted = ctx.profile.strength_sessions_per_week
    return wanted if stage in RESILIENCE_STAGES else max(1, wanted - 1)


def key_sets(ctx: Context, stage: str, week: int, extras: int, has_load: bool) -> int:
    record = main_prescription(stage_record(ctx, TAPER if stage == RECOVERY else stage)).sets
    sets = {"new": record.min, "intermediate": record.min, "advanced": record.max}[ctx.profile.experience]
    if stage in (TAPER, RECOVERY):
        sets = record.min
    if ctx.profile.experience == "new" and week <= 2:
        sets = max(2, sets - 1)  # a gentler start for new runners
    heavy_sets = stage in ("strength", "power") and has_load
    per_set = 2.5 if heavy_sets else 1.5  # minutes a set with its rest (runstrong default)
    budget = int(ctx.profile.minutes_per_session / per_set) - extras
    return max(1, min(sets, budget // len(SLOTS)))


def resilience_weeks(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    plan_season = season(ctx, weeks)
    builder = Builder(ctx, plan_season)
    _, not_heavy = day_scores(ctx)
    placements: dict[int, list[int]] = {}
    bonus = 1 if ctx.profile.experience == "advanced" else 0
    level = bonus
    plan: list[PlanWeekDraft] = []
    race = plan_season.race
    for number, stage in enumerate(plan_season.stages, start=1):
        if stage in RESILIENCE_STAGES:
            level = RESILIENCE_STAGES.index(stage) + bonus
        start = ctx.start + dt.timedelta(weeks=number - 1)
        lighter = stage == RECOVERY or (
            number % 4 == 0 and number != weeks and stage in (*RESILIENCE_STAGES, MAINTENANCE)
        )
        count = sessions_per_week(ctx, stage)
        weekdays = placements[count] if count in placements else placements.setdefault(count, place(ctx, count))
        days = sorted(on_weekday(start, d) for d in weekdays)
        drafts: list[PlanSessionDraft] = []
        taper = False
        for day in days:
            if race is not None and day == race:
                continue
            day_stage = stage
            if race is not None and plan_season.taper_from is not None and plan_season.taper_from <= day < race:
                day_stage, taper = TAPER, True
            elif (
                race is not None and plan_season.recovery_until is not None and race < day <= plan_season.recovery_until
            ):
                day_stage = RECOVERY
            drafts.append(_session(ctx, builder, day, day_stage, level, number, lighter, day.weekday() in not_heavy))
        plan.append(
            PlanWeekDraft(number=number, starts_on=start, stage=stage, lighter=lighter, taper=taper, sessions=drafts)
        )
    _no_heavy_back_to_back(plan)
    _no_heavier_near_the_race(plan, plan_season.window_from, race)
    return plan


def _session(
    ctx: Context,
    builder: Builder,
    day: dt.date,
    stage: str,
    level: int,
    week: int,
    lighter: bool,
    before_key_run: bool,
) -> PlanSessionDraft:
    season_ = builder.season
    in_window = builder.in_window(day)
    met_plyo = in_window and any(ctx.exercises[s].loading_type is LoadingType.plyometric for s in builder.seen)
    plyo_allowed = stage == "power" and (not in_window or met_plyo)
    extras = 2 * min(2, len(ctx.profile.injury_history))
    sets = key_sets(ctx, stage, week, extras, builder.has_load)
    early_pain = ctx.severe_pain and week <= PAIN_WEEKS
    key = (stage, level, sets, in_window, plyo_allowed, early_pain)
    items = builder.memo.get(key)
    if items is None:  # the same inputs give the same items: build them once
        items = [
            builder.item(slot, stage, level, min(sets, 3) if slot.accessory else sets, day, early_pain)
            for slot in SLOTS
        ]
        extra_items = prehab(ctx, {i.exercise for i in items})
        if plyo_allowed and (hop := plyometric(ctx, max(1, min(2, sets - 1)))):
            items.append(hop)  # always below the strength volume (seed 004)
            if not in_window:
                builder.seen.add(hop.exercise)
        if sets == 1:
            extra_items = [i.model_copy(update={"sets": 1}) for i in extra_items]
        items = items + extra_items
        if early_pain:  # Achilles pain above 5/10: calf holds, everything else slow (seed 004)
            items = [
                i
                if i.tempo or i.reps is None
                else i.model_copy(
                    update={"tempo": "3-0-3", "rationale": i.rationale + " Slow while Achilles pain is above 5/10."}
                )
                for i in items
            ]
        builder.memo[key] = items
    heavy_free = (
        season_.heavy_free_from is not None
        and season_.race is not None
        and season_.heavy_free_from <= day < season_.race
    )
    final = (*key, lighter, before_key_run, heavy_free)
    done = builder.final.get(final)
    if done is None:
        if lighter:
            items = [lighter_item(i, drop_set=True) for i in items]
        if before_key_run or heavy_free:
            reason = "the day before a long or hard run" if before_key_run else "the last days before the race"
            items = [lighter_item(i, f" Not heavy on {reason}.") if i.heavy else i for i in items]
        done = builder.final[final] = items
    return PlanSessionDraft(
        day=day,
        weekday=WEEKDAYS[day.weekday()],
        kind="strength",
        focus=f"Runner strength: {_stage_name(stage)}",
        heavy=any(i.heavy for i in done),
        times_per_day=1,
        items=list(done),
        run=None,
        gate=None,
    )


def _no_heavy_back_to_back(plan: list[PlanWeekDraft]) -> None:
    previous: dt.date | None = None
    for week in plan:
        for index, s in enumerate(week.sessions):
            if s.heavy and previous is not None and (s.day - previous).days < 2:
                items = [lighter_item(i, " Not heavy two days in a row.") if i.heavy else i for i in s.items]
                week.sessions[index] = s.model_copy(update={"items": items, "heavy": False})
            elif s.heavy:
                previous = s.day


def _no_heavier_near_the_race(plan: list[PlanWeekDraft], window_from: dt.date | None, race: dt.date | None) -> None:
    """From ``window_from`` to the race no load is heavier than the heaviest %1RM the plan
    actually gave that exercise before (after every lightening), and an exercise only ever
    given light before stays light: nothing is met for the first time near the race."""
    if window_from is None or race is None:
        return
    top: dict[str, float] = {}
    for week in plan:
        for index, s in enumerate(week.sessions):
            if s.day < window_from:
                for i in s.items:
                    if i.load.kind == "percent_1rm" and i.load.value is not None:
                        top[i.exercise] = max(top.get(i.exercise, 0.0), i.load.value)
                continue
            if s.day >= race:
                continue
            items = [_at_most(i, top.get(i.exercise)) for i in s.items]
            if items != s.items:
                week.sessions[index] = s.model_copy(update={"items": items, "heavy": any(i.heavy for i in items)})


def _at_most(item: PlanItem, percent: float | None) -> PlanItem:
    if item.load.kind != "percent_1rm" or item.load.value is None or (percent and item.load.value <= percent):
        return item
    if not percent:
        return lighter_item(item, " No heavier than before, this close to the race.")
    text = f"about {percent:g}% 1RM (no heavier than before)"
    reserve = next((r for r in sorted(RESERVE.values(), key=len, reverse=True) if item.load.text.endswith(r)), None)
    load = Load(kind="percent_1rm", value=percent, text=f"{text}, {reserve}" if reserve else text)
    return item.model_copy(update={"load": load, "heavy": is_heavy(load)})


def lighter_item(item: PlanItem, why: str = " Lighter week (every fourth).", *, drop_set: bool = False) -> PlanItem:
    """The item at a light load (about 60% 1RM), one set fewer in a lighter week."""
    load = item.load if not item.heavy else Load(kind="rpe", value=6, text="lighter: about 60% 1RM")
    return item.model_copy(
        update={
            "sets": max(1, item.sets - 1) if drop_set else item.sets,
            "load": load,
            "heavy": False,
            "rationale": item.rationale + why,
        }
    )


def covers(exercise: Exercise, muscle: str) -> bool:
    return bool(MUSCLE_COVER[muscle] & set(exercise.primary_muscles))


def resilience_notes(ctx: Context) -> list[str]:
    notes = [
        "Key muscles in every session (calves, quadriceps, hamstrings, gluteus medius and maximus): a shorter "
        "session has fewer sets, not fewer muscles.",
        "Loaded variants where your equipment allows, dosed in %1RM with reps in reserve; body-weight work moves "
        "to a harder variant (one leg, a step, a slower tempo) instead of fewer repetitions (ACSM 2009).",
        "Season: strength endurance, basic strength, strength, then power; plyometric volume stays below "
        "strength volume (Bazyler 2015; seed 004).",
    ]
    profile = ctx.profile
    if profile.running_days or profile.long_run_day or profile.hard_run_days:
        notes.append(
            "Sessions go around your running: never heavy the day before a long or hard run; preferably on a "
            "hard-run day or the day after an easy run."
        )
    if profile.race_date is not None and profile.race_date > ctx.start:
        opts = ctx.options
        notes.append(
            f"Before the race: 1-2 maintenance sessions a week (Rønnestad 2010), light sets over the last "
            f"{opts.taper_days} days, no new exercise or first plyometric in the last {opts.no_new_exercise_days} "
            f"days and nothing heavy in the last {opts.heavy_free_days} (practice, not trial-tested); light work "
            f"only for {opts.recovery_days} days after it."
        )
    if profile.injury_history:
        notes.append("Prehab for your past injuries from the catalogue's injury records.")
    return notes
