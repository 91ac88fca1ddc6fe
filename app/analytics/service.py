"""Load and progress reports from the training log (queries here, maths in metrics)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from app.accounts.models import User, utcnow
from app.analytics import metrics as m
from app.analytics import schemas as s
from app.catalogue import models as catalogue
from app.core.db import table_of
from app.core.direct import Direct
from app.core.errors import InvalidInput, NotFound
from app.plans.models import Plan
from app.training.models import CheckIn, Run, Workout, WorkoutSet

MAX_DAYS = 3 * 366
# The reports read plain rows of the tables (Core, not ORM statements): nothing is updated,
# and the ORM's row loading cost a third of a load report. Workout ids that only join rows
# are read as the database keeps them (no uuid.UUID made per row).
_RUN = table_of(Run).c
_WORKOUT = table_of(Workout).c
_SET = table_of(WorkoutSet).c
_USER = table_of(User).c
_CHECKIN = table_of(CheckIn).c
_EXERCISE_MUSCLE = table_of(catalogue.ExerciseMuscle).c
_MUSCLE = table_of(catalogue.Muscle).c
_PLAN = table_of(Plan).c
_ATHLETE: sa.BindParameter[Any] = sa.bindparam("athlete_id")
_LOWER: sa.BindParameter[Any] = sa.bindparam("lower")
_UPPER: sa.BindParameter[Any] = sa.bindparam("upper")
# The reports' statements, built once and run on the driver (core.direct); ``lower`` and
# ``upper`` bound an instant window, ``first`` and ``last`` a window of days.
_TIMEZONE = Direct(sa.select(_USER.timezone).where(_USER.id == _ATHLETE))
_PRIMARY_GROUPS = Direct(
    sa.select(_EXERCISE_MUSCLE.exercise_slug, _MUSCLE.slug, _MUSCLE.group_slug)
    .join_from(
        table_of(catalogue.ExerciseMuscle), table_of(catalogue.Muscle), _MUSCLE.slug == _EXERCISE_MUSCLE.muscle_slug
    )
    .where(_EXERCISE_MUSCLE.role == "primary")
)
_RUNS_IN = Direct(
    sa.select(_RUN.started_at, _RUN.duration_seconds, _RUN.session_rpe, _RUN.distance_km).where(
        _RUN.athlete_id == _ATHLETE, _RUN.started_at >= _LOWER, _RUN.started_at < _UPPER
    )
)
_WORKOUT_IN = (_WORKOUT.athlete_id == _ATHLETE, _WORKOUT.started_at >= _LOWER, _WORKOUT.started_at < _UPPER)
_WORKOUTS_IN = Direct(
    sa.select(
        sa.type_coerce(_WORKOUT.id, sa.String).label("id"),
        _WORKOUT.started_at,
        _WORKOUT.duration_seconds,
        _WORKOUT.session_rpe,
    ).where(*_WORKOUT_IN)
)
# Completed sets per workout and exercise, counted by the database in one statement.
_SETS_IN = Direct(
    sa.select(sa.type_coerce(_SET.workout_id, sa.String), _SET.exercise_slug, sa.func.count())
    .join_from(table_of(WorkoutSet), table_of(Workout), _WORKOUT.id == _SET.workout_id)
    .where(*_WORKOUT_IN, _SET.completed)
    .group_by(_SET.workout_id, _SET.exercise_slug)
)
_FIRST_RUN = Direct(sa.select(sa.func.min(_RUN.started_at)).where(_RUN.athlete_id == _ATHLETE))
_FIRST_WORKOUT = Direct(sa.select(sa.func.min(_WORKOUT.started_at)).where(_WORKOUT.athlete_id == _ATHLETE))
_SETS_OF_EXERCISE = Direct(
    sa.select(_WORKOUT.id, _WORKOUT.started_at, _SET.load_kg, _SET.reps)
    .join_from(table_of(Workout), table_of(WorkoutSet), _SET.workout_id == _WORKOUT.id)
    .where(*_WORKOUT_IN, _SET.exercise_slug == sa.bindparam("exercise"), _SET.completed)
    .order_by(_WORKOUT.started_at, _SET.position)
)
_CHECKINS_IN = Direct(
    sa.select(_CHECKIN.date, _CHECKIN.sites).where(
        _CHECKIN.athlete_id == _ATHLETE, _CHECKIN.date >= sa.bindparam("first"), _CHECKIN.date <= sa.bindparam("last")
    )
)
_ACTIVE_DRAFTS = Direct(sa.select(_PLAN.draft).where(_PLAN.athlete_id == _ATHLETE, _PLAN.status == "active"))
_LOGGED_AGAINST = Direct(
    sa.select(_WORKOUT.planned_session_id).where(_WORKOUT.planned_session_id.in_(sa.bindparam("due", expanding=True)))
)
LOAD_NOTES = [
    "Session load is session RPE x minutes (Foster 2001); a session without RPE has an unknown load: it is "
    "counted in sessions_without_rpe and the week's load is a lower bound.",
    "The distance warning follows the 10% rule of seed 004: a guideline, not a proven rule (Buist 2008 found "
    "no difference; Nielsen 2014 linked >30% over two weeks to more injuries).",
    "The acute:chronic ratio is information, not a gate: its 0.8-1.3 'sweet spot' (Gabbett 2016) is strongly "
    "criticised (Lolli 2019; Impellizzeri 2020), and after a break any return reads as a spike. It stays null "
    "until 28 days of history exist; 1.5 or more is Gabbett's 'danger' band.",
]
LOAD_SOURCES = [
    "foster-2001",
    "foster-1998",
    "gabbett-2016",
    "lolli-2019",
    "impellizzeri-2020",
    "seed-004",
    "buist-2008",
    "nielsen-2014",
]


def _zone(session: Session, athlete_id: uuid.UUID) -> ZoneInfo:
    row = _TIMEZONE.first(session, {"athlete_id": athlete_id})
    return ZoneInfo((row and row.timezone) or "UTC")


def _window(first: dt.date | None, last: dt.date | None, default_days: int) -> tuple[dt.date, dt.date]:
    last = last or utcnow().date()
    first = first or last - dt.timedelta(days=default_days - 1)
    if first > last:
        raise InvalidInput("'from' is after 'to'.", name="from")
    if (last - first).days > MAX_DAYS:
        raise InvalidInput(f"At most {MAX_DAYS} days at a time.", name="from")
    return first, last


def _groups_of_exercises(session: Session) -> dict[str, set[str]]:
    rows = _PRIMARY_GROUPS.rows(session)
    groups: dict[str, set[str]] = defaultdict(set)
    for exercise, muscle, group in rows:
        groups[exercise].add(group or muscle)
    return groups


def load(
    session: Session, athlete_id: uuid.UUID, first: dt.date | None, last: dt.date | None, threshold_pct: float
) -> s.LoadReport:
    first, last = _window(first, last, 12 * 7)
    zone = _zone(session, athlete_id)
    weeks = []
    start = m.week_start(first)
    end = m.week_start(last) + dt.timedelta(days=6)
    history_from = start - dt.timedelta(days=28)  # the ratio and the first change need earlier weeks
    lower = dt.datetime.combine(history_from, dt.time.min, zone)
    upper = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone)
    # Only the columns the report reads, as plain rows: nothing here is updated.
    window = {"athlete_id": athlete_id, "lower": lower, "upper": upper}
    runs = _RUNS_IN.rows(session, window)
    workouts = _WORKOUTS_IN.rows(session, window)
    first_logged = _first_logged(session, athlete_id, zone)
    groups = _groups_of_exercises(session)
    sets_by_workout: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    if workouts:
        for workout_id, exercise, count in _SETS_IN.rows(session, window):
            sets_by_workout[workout_id].append((exercise, count))

    def local(moment: dt.datetime) -> dt.date:
        return moment.astimezone(zone).date()

    run_days = [(local(r.started_at), r) for r in runs]
    workout_days = [(local(w.started_at), w) for w in workouts]
    runs_by_week: dict[dt.date, list[Any]] = defaultdict(list)
    for day, r in run_days:
        runs_by_week[m.week_start(day)].append(r)
    workouts_by_week: dict[dt.date, list[Any]] = defaultdict(list)
    for day, w in workout_days:
        workouts_by_week[m.week_start(day)].append(w)
    loads = [(day, m.session_load(r.session_rpe, r.duration_seconds / 60)) for day, r in run_days]
    loads += [(day, m.session_load(w.session_rpe, w.duration_seconds / 60)) for day, w in workout_days]
    daily = dict(zip(m.days(history_from, end), m.daily_totals(loads, history_from, end), strict=True))
    previous_km: float | None = None
    monday = start - dt.timedelta(days=7)
    while monday <= end:
        sunday = monday + dt.timedelta(days=6)
        week_runs = runs_by_week[monday]
        week_workouts = workouts_by_week[monday]
        km = round(sum(r.distance_km for r in week_runs), 2)
        if monday >= start:
            sets: dict[str, int] = defaultdict(int)
            for w in week_workouts:
                for exercise, count in sets_by_workout[w.id]:
                    for group in groups.get(exercise, ()):
                        sets[group] += count
            week_daily = [daily[d] for d in m.days(monday, sunday)]
            spread = m.monotony(week_daily)
            ratio = m.acwr([daily[d] for d in m.days(sunday - dt.timedelta(days=27), sunday)])
            history = 0 if first_logged is None else (sunday - first_logged).days + 1
            note = None
            if history < m.ACWR_HISTORY_DAYS:
                ratio = None
                note = f"Needs {m.ACWR_HISTORY_DAYS} days of history; {max(history, 0)} so far."
            elif ratio is None:
                note = "No load with a session RPE in the last 28 days."
            change = m.percent_change(previous_km, km) if previous_km is not None else None
            returned = bool(
                previous_km == 0
                and km > 0
                and first_logged is not None
                and first_logged < monday - dt.timedelta(days=7)
            )
            unrated = sum(1 for r in week_runs if r.session_rpe is None) + sum(
                1 for w in week_workouts if w.session_rpe is None
            )
            band = m.acwr_band(ratio)
            warnings = []
            if change is not None and change > threshold_pct:
                warnings.append(f"Running distance rose {change:g}%, above the {threshold_pct:g}% threshold.")
            if returned:
                warnings.append(
                    f"Running again after a week without it ({km:g} km): after a break any return reads as a spike; "
                    "build back gradually."
                )
            if unrated:
                warnings.append(
                    f"{unrated} session(s) without a session RPE: their load is unknown, so this week's load and "
                    "the ratio read low."
                )
            if band == "danger":
                warnings.append(
                    f"Acute:chronic ratio {ratio:g}, in Gabbett's 'danger' band (>= 1.5); a criticised measure "
                    "(Lolli 2019; Impellizzeri 2020), information only."
                )
            weeks.append(
                s.WeekLoad(
                    week_start=monday,
                    running_km=km,
                    running_seconds=sum(r.duration_seconds for r in week_runs),
                    running_minutes=round(sum(r.duration_seconds for r in week_runs) / 60, 1),
                    runs=len(week_runs),
                    workouts=len(week_workouts),
                    strength_sets=dict(sorted(sets.items())),
                    load=round(sum(week_daily), 1),
                    monotony=spread.monotony,
                    strain=spread.strain,
                    distance_change_pct=change,
                    distance_warning=change is not None and change > threshold_pct,
                    acwr=ratio,
                    acwr_flag=None
                    if ratio is None
                    else "low"
                    if ratio < m.ACWR_LOW
                    else "high"
                    if ratio > m.ACWR_HIGH
                    else None,
                    acwr_band=band,
                    acwr_note=note,
                    previous_running_km=previous_km,
                    return_from_zero=returned,
                    sessions_without_rpe=unrated,
                    warnings=warnings,
                )
            )
        previous_km = km
        monday += dt.timedelta(days=7)
    return s.LoadReport(
        first_day=start, last_day=end, threshold_pct=threshold_pct, weeks=weeks, notes=LOAD_NOTES, sources=LOAD_SOURCES
    )


def _first_logged(session: Session, athlete_id: uuid.UUID, zone: ZoneInfo) -> dt.date | None:
    """The athlete's first logged run or workout, in their time zone."""
    firsts = [first.rows(session, {"athlete_id": athlete_id})[0][0] for first in (_FIRST_RUN, _FIRST_WORKOUT)]
    days = [moment.astimezone(zone).date() for moment in firsts if moment is not None]
    return min(days, default=None)


def progress(
    session: Session, athlete_id: uuid.UUID, exercise: str | None, first: dt.date | None, last: dt.date | None
) -> s.ProgressReport:
    first, last = _window(first, last, 26 * 7)
    zone = _zone(session, athlete_id)
    lower = dt.datetime.combine(first, dt.time.min, zone)
    upper = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, zone)
    sessions: list[s.SessionProgress] = []
    if exercise is not None:
        if session.get(catalogue.Exercise, exercise) is None:
            raise NotFound(f"No exercise '{exercise}'.")
        rows = _SETS_OF_EXERCISE.rows(
            session, {"athlete_id": athlete_id, "lower": lower, "upper": upper, "exercise": exercise}
        )
        by_workout: dict[uuid.UUID, list[Any]] = {}  # each workout's sets, in order
        for row in rows:
            by_workout.setdefault(row.id, []).append(row)
        for workout_id, items in by_workout.items():
            scored = [(m.epley(i.load_kg, i.reps or 0), m.brzycki(i.load_kg, i.reps or 0), i) for i in items]
            best = max((x for x in scored if x[0] is not None), key=lambda x: x[0] or 0, default=None)
            sessions.append(
                s.SessionProgress(
                    day=items[0].started_at.astimezone(zone).date(),
                    workout_id=str(workout_id),
                    sets=len(items),
                    volume_kg=round(sum((i.reps or 0) * max(i.load_kg, 0) for i in items), 1),
                    best_set=f"{best[2].load_kg:g} kg x {best[2].reps}" if best else None,
                    e1rm_epley=round(best[0], 1) if best and best[0] else None,
                    e1rm_brzycki=round(max((x[1] for x in scored if x[1] is not None), default=0), 1) or None,
                )
            )
    return s.ProgressReport(
        exercise=exercise,
        sessions=sessions,
        pain=_pain(session, athlete_id, first, last),
        adherence=_adherence(session, athlete_id),
        notes=[
            "One-repetition maxima are estimated from sets of 10 reps or fewer with added load (Epley; Brzycki).",
            "Pain and stiffness must not rise from week to week (Silbernagel 2007).",
        ],
    )


def _pain(session: Session, athlete_id: uuid.UUID, first: dt.date, last: dt.date) -> dict[str, list[s.PainWeek]]:
    rows = _CHECKINS_IN.rows(session, {"athlete_id": athlete_id, "first": first, "last": last})
    by_site: dict[str, dict[dt.date, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for checkin in rows:
        for report in checkin.sites:
            by_site[report["site"]][m.week_start(checkin.date)].append((report["pain"], report["morning_stiffness"]))
    trend: dict[str, list[s.PainWeek]] = {}
    for site, weeks in sorted(by_site.items()):
        out: list[s.PainWeek] = []
        for monday in sorted(weeks):
            pain = round(mean(p for p, _ in weeks[monday]), 2)
            stiffness = round(mean(st for _, st in weeks[monday]), 2)
            rising = bool(out) and (pain > out[-1].mean_pain or stiffness > out[-1].mean_stiffness)
            out.append(s.PainWeek(week_start=monday, mean_pain=pain, mean_stiffness=stiffness, rising=rising))
        trend[site] = out
    return trend


def _adherence(session: Session, athlete_id: uuid.UUID) -> s.Adherence:
    today = utcnow().date()
    due: list[uuid.UUID] = []
    for (draft,) in _ACTIVE_DRAFTS.rows(session, {"athlete_id": athlete_id}):
        for week in draft.get("weeks", []):
            due += [
                uuid.UUID(x["id"])
                for x in week["sessions"]
                if x["kind"] != "run" and dt.date.fromisoformat(x["day"]) <= today
            ]
    done = {row.planned_session_id for row in _LOGGED_AGAINST.rows(session, {"due": due})} if due else set()
    completed = sum(1 for d in due if d in done)
    return s.Adherence(planned=len(due), completed=completed, rate=round(completed / len(due), 3) if due else None)
