"""Plans: preview, create from the stored profile, list, read, archive, adapt, iCalendar."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.accounts.models import AthleteProfile, User, utcnow
from app.analytics import service as analytics
from app.catalogue.content import Catalogue, load_catalogue
from app.core import events
from app.core.db import json_array_length, read_json, table_of
from app.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from app.core.ids import new_id
from app.core.pagination import PageParams, page_rows
from app.core.schemas import WEEKDAY_NAMES
from app.plans import schemas as s
from app.plans.engine import PlanDraft, PlanError, PlanProfile, week_rules
from app.plans.engine import adapt as staged
from app.plans.engine.adapt_strength import RunningLoad, decide_strength
from app.plans.engine.criteria import (
    BASELINE_DAYS,
    CheckInLog,
    ClinicalTestLog,
    RunLog,
    SitePain,
    WeekEvidence,
    WorkoutLog,
)
from app.plans.engine.generate import generate_with_states
from app.plans.engine.model import PlanKind, PlanOptions, PlanWeekDraft
from app.plans.engine.stages import PlanState
from app.plans.models import Plan, PlanAdaptation, PlanSession
from app.training import service as training
from app.training.models import CheckIn, ClinicalTest, Run, Workout, WorkoutSet

RUNNING_WEEK_DAYS = 28  # the logged runs that show the runner's week
HARD_RUN_TYPES = {"intervals", "tempo", "race"}
HARD_RUN_RPE = 7


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The catalogue snapshot the engine reads: the same data files the database is seeded from."""
    return load_catalogue()


@lru_cache(maxsize=1)
def _known_slugs() -> tuple[tuple[str, frozenset[str]], ...]:
    """The profile fields that name catalogue records, with the slugs they may name."""
    cat = catalogue()
    return (
        ("equipment", frozenset(e.slug for e in cat.equipment)),
        ("injury_history", frozenset(i.slug for i in cat.injuries)),
    )


def _check_slugs(profile: PlanProfile, prefix: str) -> None:
    problems = []
    for name, known in _known_slugs():
        unknown = sorted(set(getattr(profile, name)) - known)
        if unknown:
            problems.append(
                FieldProblem(
                    name=f"{prefix}{name}",
                    location="body",
                    detail=f"unknown slugs: {', '.join(unknown)}",
                    type="unknown_slug",
                )
            )
    if problems:
        raise InvalidInput.of(problems)


def _generate(
    profile: PlanProfile, request: s.PreviewRequest | s.PlanCreate, prefix: str
) -> tuple[PlanDraft, dict[int, PlanState]]:
    _check_slugs(profile, prefix)
    start = request.start_date or utcnow().date()
    try:
        return generate_with_states(profile, catalogue(), start, request.kind, request.options)
    except PlanError as exc:
        name = exc.field.replace("profile.", prefix, 1)
        raise InvalidInput(str(exc), name=name, location="body") from exc


def preview(request: s.PreviewRequest) -> PlanDraft:
    return _generate(request.profile, request, "profile.")[0]


def running_week(session: Session, athlete_id: uuid.UUID, until: dt.date) -> dict[str, Any]:
    """The runner's week from the runs logged in the 28 days before ``until``: the weekdays
    run in at least half of the weeks with runs, the long run (the weekday that most often
    holds the week's longest run) and the hard runs (intervals, tempo, race or session RPE
    >= 7). Empty without runs."""
    user = session.get(User, athlete_id)
    zone = ZoneInfo(user.timezone if user else "UTC")
    lower = dt.datetime.combine(until - dt.timedelta(days=RUNNING_WEEK_DAYS), dt.time.min, zone)
    upper = dt.datetime.combine(until, dt.time.min, zone)
    runs = session.exec(
        select(Run)
        .where(col(Run.athlete_id) == athlete_id, col(Run.started_at) >= lower, col(Run.started_at) < upper)
        .order_by(col(Run.started_at), col(Run.id))
    ).all()
    if not runs:
        return {}
    by_week: dict[dt.date, list[tuple[int, Run]]] = defaultdict(list)
    for run in runs:
        day = run.started_at.astimezone(zone).date()
        by_week[day - dt.timedelta(days=day.weekday())].append((day.weekday(), run))
    needed = -(-len(by_week) // 2)

    def regular(weekdays: list[set[int]]) -> list[str]:
        counts: dict[int, int] = defaultdict(int)
        for days in weekdays:
            for d in days:
                counts[d] += 1
        return [WEEKDAY_NAMES[d] for d in sorted(counts) if counts[d] >= needed]

    longest: dict[int, int] = defaultdict(int)
    for week in by_week.values():
        longest[max(week, key=lambda x: (x[1].distance_km, -x[0]))[0]] += 1
    long_day = max(sorted(longest), key=lambda d: longest[d])
    hard = [
        {d for d, r in week if r.type in HARD_RUN_TYPES or (r.session_rpe or 0) >= HARD_RUN_RPE}
        for week in by_week.values()
    ]
    return {
        "running_days": regular([{d for d, _ in week} for week in by_week.values()]),
        "long_run_day": WEEKDAY_NAMES[long_day],
        "hard_run_days": [d for d in regular(hard) if d != WEEKDAY_NAMES[long_day]],
    }


def stored_profile(
    session: Session, athlete_id: uuid.UUID, overrides: dict[str, Any], inferred: dict[str, Any] | None = None
) -> PlanProfile:
    row = session.get(AthleteProfile, athlete_id)
    if row is None:
        raise NotFound("No such athlete profile.")
    stored = {
        "experience": row.experience,
        "weekly_distance_km": row.weekly_distance_km,
        "running_days_per_week": row.running_days_per_week,
        "goal": row.goal,
        "race_date": row.goal_race_date,
        "equipment": row.equipment,
        "strength_sessions_per_week": row.strength_sessions_per_week,
        "minutes_per_session": row.minutes_per_session,
        "achilles_pain": row.achilles_pain,
        "achilles_pain_site": row.achilles_pain_site,
        "single_leg_heel_raises": row.single_leg_heel_raises,
        "injury_history": row.injury_history,
        "running_days": row.running_days,
        "long_run_day": row.long_run_day,
    }
    merged = {k: v for k, v in stored.items() if v is not None} | (inferred or {}) | overrides
    try:
        return PlanProfile.model_validate(merged)
    except ValidationError as exc:
        problems = [
            FieldProblem(
                name="profile_overrides." + ".".join(str(p) for p in e["loc"]),
                location="body",
                detail=e["msg"],
                type=e["type"],
            )
            for e in exc.errors()
        ]
        raise InvalidInput.of(problems) from None


def create_plan(session: Session, athlete_id: uuid.UUID, request: s.PlanCreate) -> s.PlanPublic:
    today = utcnow().date()
    inferred = running_week(session, athlete_id, min(request.start_date or today, today))
    overrides: dict[str, Any] = request.profile_overrides.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    profile = stored_profile(session, athlete_id, overrides, inferred)
    draft, states = _generate(profile, request, "profile_overrides.")
    data = draft.model_dump(mode="json")
    plan = Plan(
        id=new_id(),
        athlete_id=athlete_id,
        kind=draft.kind.value,
        protocol=draft.protocol,
        start_date=draft.start_date,
        profile=profile.model_dump(mode="json"),
        options=request.options.model_dump(mode="json"),
        baseline_pain=profile.achilles_pain,
        draft={},
        state=_states_json(states, states.get(1)) if states else None,
    )
    session.add(plan)
    session.flush()
    _add_sessions(session, plan.id, data["weeks"], {})
    plan.draft = data
    events.emit(session, "plan.created", athlete_id, plan.id, {"kind": plan.kind})
    session.flush()  # the caller commits, with the Idempotency-Key's stored answer
    return get_plan(session, athlete_id, plan.id)


def _states_json(states: dict[int, PlanState], current: PlanState | None) -> dict[str, Any]:
    return {
        "current": current.model_dump(mode="json") if current else None,
        "weeks": {str(n): st.model_dump(mode="json") for n, st in states.items()},
    }


def _add_sessions(
    session: Session, plan_id: uuid.UUID, weeks: list[dict[str, Any]], reuse: dict[tuple[str, str], list[str]]
) -> None:
    """Give each session of ``weeks`` an id (reusing a replaced session's id for the same day
    and kind) and a row workouts can link to. A random id, unlike other new rows' (time-
    ordered, :mod:`app.core.ids`): sessions are laid out again when a logged workout
    completes a week, and their ids are the UIDs of the plan's calendar feed and the
    ``planned_session_id`` of workouts, so a time in them would tell whoever holds the
    feed's link when the athlete logged."""
    for week in weeks:
        for item in week["sessions"]:
            ids = reuse.get((item["day"], item["kind"]))
            old = ids.pop(0) if ids else None
            item["id"] = old or str(uuid.uuid4())
            row = session.get(PlanSession, uuid.UUID(old)) if old else None
            if row is None:
                session.add(
                    PlanSession(
                        id=uuid.UUID(item["id"]),
                        plan_id=plan_id,
                        week=week["number"],
                        day=dt.date.fromisoformat(item["day"]),
                    )
                )
            else:
                row.week = week["number"]


def _adaptation_public(a: PlanAdaptation | sa.Row[Any]) -> s.AdaptationPublic:
    return s.AdaptationPublic(
        week=a.week,
        decision=a.decision,
        rule=a.rule,
        reasons=a.reasons,
        criterion=a.criterion or a.rule,
        from_stage=a.from_stage,
        to_stage=a.to_stage,
        details=a.details,
        created_at=a.created_at,
    )


def _owned(session: Session, athlete_id: uuid.UUID, plan_id: uuid.UUID) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None or plan.athlete_id != athlete_id:
        raise NotFound(f"No plan '{plan_id}'.")
    return plan


_PLAN = table_of(Plan).c
_PLAN_SESSION = table_of(PlanSession).c
_ADAPTATION = table_of(PlanAdaptation).c
_LINKED_WORKOUT = table_of(Workout).c
# A plan as shown, read as rows by statements built once: the columns shown (the profile,
# options and state JSON stay unread), the workouts linked to its sessions, its adaptations.
_SHOWN = sa.select(
    _PLAN.athlete_id, sa.cast(_PLAN.draft, sa.Text).label("draft"), _PLAN.status, _PLAN.created_at
).where(_PLAN.id == sa.bindparam("id"))
_LINKED = (
    sa.select(_LINKED_WORKOUT.id, _LINKED_WORKOUT.planned_session_id)
    .join_from(table_of(Workout), table_of(PlanSession), _PLAN_SESSION.id == _LINKED_WORKOUT.planned_session_id)
    .where(_PLAN_SESSION.plan_id == sa.bindparam("plan_id"), _LINKED_WORKOUT.athlete_id == sa.bindparam("athlete_id"))
    .order_by(_LINKED_WORKOUT.started_at)
)
_LOGGED_AGAINST = (
    sa.select(
        _PLAN_SESSION.week,
        _PLAN_SESSION.plan_id,
        _PLAN.athlete_id,
        _PLAN.status,
        _PLAN.kind,
        sa.cast(_PLAN.draft, sa.Text).label("draft"),
    )
    .join_from(table_of(PlanSession), table_of(Plan), _PLAN.id == _PLAN_SESSION.plan_id)
    .where(_PLAN_SESSION.id == sa.bindparam("id"))
    # The plan's row locked until the write commits: an athlete's workouts logged against
    # one plan at once judge its week one after the other, each seeing the workouts and
    # adaptations committed before it (PostgreSQL; SQLite runs one writer at a time).
    .with_for_update(of=table_of(Plan))
)
_ADAPTED_AFTER = sa.select(_ADAPTATION.week).where(
    _ADAPTATION.plan_id == sa.bindparam("plan_id"), _ADAPTATION.week > sa.bindparam("week")
)
_ADAPTATIONS = (
    sa.select(table_of(PlanAdaptation)).where(_ADAPTATION.plan_id == sa.bindparam("plan_id")).order_by(_ADAPTATION.week)
)


def list_plans(
    session: Session, athlete_id: uuid.UUID, status: str | None, params: PageParams
) -> tuple[list[s.PlanSummary], int]:
    # The summary's columns only: the database counts each draft's weeks (a draft is
    # 100-200 KB of JSON, and a page may list a hundred plans).
    weeks = sa.func.coalesce(json_array_length(_PLAN.draft, "weeks"), 0).label("weeks")
    listed = (_PLAN.id, _PLAN.kind, _PLAN.protocol, _PLAN.status, _PLAN.start_date, weeks, _PLAN.created_at)
    stmt = sa.select(*listed).where(_PLAN.athlete_id == athlete_id)
    if status:
        stmt = stmt.where(_PLAN.status == status)
    rows, total = page_rows(session, stmt, params, _PLAN.created_at.desc(), _PLAN.id)
    return [s.PlanSummary.model_validate(row._mapping) for row in rows], total


_NO_ID = uuid.UUID(int=0)
_PLAN_CHECK = s.PlanPublic.__pydantic_validator__


@lru_cache(maxsize=16)
def _shown_draft(draft: str) -> s.PlanPublic:
    """A stored draft (its JSON text) validated as shown, with no workouts linked and blanks
    for what each read fills in. Decoding and validating a 17-week draft cost 4 ms; a plan
    is read far more often than its draft changes, and the text itself is the key, so a
    changed draft is validated anew. About 1.3 MB kept for such a plan, 16 plans at most
    per worker. Shared between reads: never mutated, only copied."""
    data = read_json(draft)
    for week in data["weeks"]:
        for item in week["sessions"]:
            item["workouts"] = []
    blanks = {"id": _NO_ID, "athlete_id": _NO_ID, "status": "active", "created_at": dt.datetime.min, "adaptations": []}
    return s.PlanPublic.model_validate({**data, **blanks})


def get_plan(session: Session, athlete_id: uuid.UUID, plan_id: uuid.UUID) -> s.PlanPublic:
    plan = session.execute(_SHOWN, {"id": plan_id}).first()
    if plan is None or plan.athlete_id != athlete_id:
        raise NotFound(f"No plan '{plan_id}'.")
    linked: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for wid, sid in session.execute(_LINKED, {"plan_id": plan_id, "athlete_id": athlete_id}):
        linked[sid].append(wid)
    adaptations = session.execute(_ADAPTATIONS, {"plan_id": plan_id}).all()
    shown = _shown_draft(plan.draft)
    # Copies of the validated parts with this read's values (already typed: from the
    # database's columns and rows, and the adaptations' own models).
    weeks = [
        week.model_copy(
            update={
                "sessions": [
                    item.model_copy(update={"workouts": linked[item.id]}) if item.id in linked else item
                    for item in week.sessions
                ]
            }
        )
        if any(item.id in linked for item in week.sessions)
        else week
        for week in shown.weeks
    ]
    answer = shown.model_copy(update={"adaptations": [_adaptation_public(a) for a in adaptations], "weeks": weeks})
    # This read's own columns are checked as the model's fields (a status outside the
    # contract fails here, as validating the whole plan made it fail).
    own = {"id": plan_id, "athlete_id": plan.athlete_id, "status": plan.status, "created_at": plan.created_at}
    for name, value in own.items():
        _PLAN_CHECK.validate_assignment(answer, name, value)
    return answer


def archive_plan(session: Session, athlete_id: uuid.UUID, plan_id: uuid.UUID) -> s.PlanPublic:
    plan = _owned(session, athlete_id, plan_id)
    plan.status, plan.updated_at = "archived", utcnow()
    session.commit()
    return get_plan(session, athlete_id, plan_id)


def check_planned_session(session: Session, athlete_id: uuid.UUID, planned_session_id: uuid.UUID | None) -> None:
    """A workout may link only to a session of its athlete's own plan."""
    if planned_session_id is None:
        return
    found = session.exec(
        select(PlanSession.id)
        .join(Plan, col(Plan.id) == PlanSession.plan_id)
        .where(col(PlanSession.id) == planned_session_id, col(Plan.athlete_id) == athlete_id)
    ).first()
    if found is None:
        raise InvalidInput(
            f"No planned session '{planned_session_id}' in your plans.", name="planned_session_id", location="body"
        )


# ---------------------------------------------------------------- adaptation


def _week_log(session: Session, plan: Plan, week: dict[str, Any]) -> week_rules.WeekLog:
    """Resilience plans: the week's logs for the pain rules."""
    evidence = _evidence(session, plan, week)
    return week_rules.WeekLog(
        planned_sessions=evidence.planned_sessions,
        workouts=[
            week_rules.LoggedWorkout(w.day, w.sets_planned, w.sets_completed, w.pain_during) for w in evidence.workouts
        ],
        morning_pain=[c.worst for c in evidence.check_ins],
        previous_morning_pain=[c.worst for c in evidence.previous_check_ins],
        baseline_pain=plan.baseline_pain,
    )


def _evidence(session: Session, plan: Plan, week: dict[str, Any]) -> WeekEvidence:
    """What the athlete logged for ``week``: its linked workouts, the runs and check-ins of
    the week, the check-ins before it (for the usual morning pain) and the clinical tests."""
    lifting = [x for x in week["sessions"] if x["kind"] not in ("run", "test")]
    planned = {uuid.UUID(x["id"]): sum(i["sets"] for i in x["items"]) for x in lifting}
    workouts = (
        session.exec(select(Workout).where(col(Workout.planned_session_id).in_(list(planned)))).all() if planned else []
    )
    counts: dict[uuid.UUID, int] = defaultdict(int)
    if workouts:
        for wid in session.exec(
            select(WorkoutSet.workout_id).where(
                col(WorkoutSet.workout_id).in_([w.id for w in workouts]), col(WorkoutSet.completed)
            )
        ).all():
            counts[wid] += 1
    start = dt.date.fromisoformat(week["starts_on"])
    end = start + dt.timedelta(days=7)
    runs = session.exec(
        select(Run).where(
            col(Run.athlete_id) == plan.athlete_id,
            col(Run.started_at) >= dt.datetime.combine(start, dt.time(), dt.UTC),
            col(Run.started_at) < dt.datetime.combine(end, dt.time(), dt.UTC),
        )
    ).all()
    check_ins = session.exec(
        select(CheckIn).where(
            col(CheckIn.athlete_id) == plan.athlete_id,
            col(CheckIn.date) >= start - dt.timedelta(days=BASELINE_DAYS),
            col(CheckIn.date) <= end,
        )
    ).all()
    logs = [
        CheckInLog(
            day=c.date,
            sites=tuple(SitePain(x["site"], x["pain"], x["morning_stiffness"]) for x in c.sites),
        )
        for c in check_ins
        if c.sites
    ]

    def between(first: dt.date, last: dt.date) -> list[CheckInLog]:
        return [c for c in logs if first <= c.day <= last]

    return WeekEvidence(
        planned_sessions=len(planned),
        planned_runs=sum(1 for x in week["sessions"] if x["kind"] == "run"),
        workouts=[
            WorkoutLog(
                day=w.started_at.date(),
                sets_planned=planned[w.planned_session_id],  # type: ignore[index]
                sets_completed=counts[w.id],
                pain_during=w.pain_during,
            )
            for w in workouts
        ],
        runs=[RunLog(r.started_at.date(), r.distance_km, r.duration_seconds, r.pain_during) for r in runs],
        check_ins=between(start + dt.timedelta(days=1), end),  # the morning after each day of the week
        previous_check_ins=between(start - dt.timedelta(days=6), start),
        baseline_check_ins=between(start - dt.timedelta(days=BASELINE_DAYS), start),
        tests=clinical_tests(session, plan.athlete_id, plan.start_date, end),
        insertional=plan.profile.get("achilles_pain_site") == "insertional",
        starts_on=start,
    )


def _running_load(session: Session, plan: Plan, week: dict[str, Any]) -> RunningLoad:
    """The judged week's running from the load report (the calendar week holding its last day)."""
    threshold = float(plan.options.get("running_spike_pct", 10))
    last = dt.date.fromisoformat(week["starts_on"]) + dt.timedelta(days=6)
    row = analytics.load(session, plan.athlete_id, last, last, threshold).weeks[-1]
    return RunningLoad(
        km=row.running_km,
        previous_km=row.previous_running_km,
        distance_change_pct=row.distance_change_pct,
        acwr=row.acwr,
        threshold_pct=threshold,
    )


SIDES: dict[str, Literal["left", "right", "both"]] = {"left": "left", "right": "right", "both": "both"}


def clinical_tests(session: Session, athlete_id: uuid.UUID, first: dt.date, before: dt.date) -> list[ClinicalTestLog]:
    """The athlete's heel-raise and hop test records from ``first`` up to ``before``."""
    rows = session.exec(
        select(ClinicalTest)
        .where(
            col(ClinicalTest.athlete_id) == athlete_id,
            col(ClinicalTest.date) >= first,
            col(ClinicalTest.date) < before,
            col(ClinicalTest.test).in_(["heel-raise", "hop"]),
        )
        # In the order recorded: of two tests on one day, the later one decides (criteria.latest).
        .order_by(col(ClinicalTest.date), col(ClinicalTest.created_at), col(ClinicalTest.id))
    ).all()
    return [
        ClinicalTestLog(
            day=r.date,
            test="hop" if r.test == "hop" else "heel-raise",
            measure=r.measure,
            left=r.left,
            right=r.right,
            affected_side=SIDES.get(r.affected_side or ""),
            pain=r.pain,
        )
        for r in rows
    ]


def _adapt_week(session: Session, plan: Plan, number: int) -> PlanAdaptation:
    existing = session.exec(
        select(PlanAdaptation).where(col(PlanAdaptation.plan_id) == plan.id, col(PlanAdaptation.week) == number)
    ).first()
    if existing is not None:
        return existing
    weeks = plan.draft["weeks"]
    index = next((i for i, w in enumerate(weeks) if w["number"] == number), None)
    if index is None:
        raise InvalidInput(f"The plan has no week {number}.", name="week", location="body")
    if plan.state is None:  # resilience plans: the pain rules on the next week
        adaptation = _adapt_by_rules(session, plan, weeks, index)
    else:
        adaptation = _adapt_by_stages(session, plan, weeks, index)
    plan.updated_at = utcnow()
    session.add(adaptation)
    session.flush()
    data = {"week": adaptation.week, "decision": adaptation.decision}
    events.emit(session, "plan.adapted", plan.athlete_id, plan.id, data)
    return adaptation


def _adapt_by_rules(session: Session, plan: Plan, weeks: list[dict[str, Any]], index: int) -> PlanAdaptation:
    verdict = week_rules.decide(_week_log(session, plan, weeks[index]))
    if plan.kind == PlanKind.resilience.value:
        verdict = decide_strength(verdict, _running_load(session, plan, weeks[index]))
    if index + 1 < len(weeks):
        following = PlanWeekDraft.model_validate(weeks[index + 1])
        this = PlanWeekDraft.model_validate(weeks[index])
        changed = week_rules.apply(verdict, this, following).model_dump(mode="json")
        for new, old in zip(changed["sessions"], weeks[index + 1]["sessions"], strict=True):
            new["id"] = old["id"]
        plan.draft = {**plan.draft, "weeks": [*weeks[: index + 1], changed, *weeks[index + 2 :]]}
    return PlanAdaptation(
        plan_id=plan.id,
        week=weeks[index]["number"],
        decision=verdict.decision,
        rule=verdict.rule,
        reasons=verdict.reasons,
        criterion=verdict.rule,
    )


def _adapt_by_stages(session: Session, plan: Plan, weeks: list[dict[str, Any]], index: int) -> PlanAdaptation:
    """Judge the week on its criteria, then lay the weeks after it out again from the new
    state (the weeks up to the judged one keep their sessions and ids)."""
    number = weeks[index]["number"]
    later = session.exec(
        select(PlanAdaptation.week).where(col(PlanAdaptation.plan_id) == plan.id, col(PlanAdaptation.week) > number)
    ).first()
    if later is not None:
        raise Conflict(f"Week {later} is already judged; weeks are judged in order, so week {number} can no longer be.")
    assert plan.state is not None
    snapshot = plan.state["weeks"].get(str(number))
    if snapshot is None:
        raise InvalidInput(f"Week {number} cannot be judged.", name="week", location="body")
    state = PlanState.model_validate(snapshot)
    profile = PlanProfile.model_validate(plan.profile)
    options = PlanOptions.model_validate(plan.options)
    kind = PlanKind(plan.kind)
    verdict = staged.adapt(profile, catalogue(), kind, options, state, _evidence(session, plan, weeks[index]))
    draft, states = generate_with_states(profile, catalogue(), plan.start_date, kind, options, verdict.state)
    replaced: dict[tuple[str, str], list[str]] = defaultdict(list)
    for w in weeks[index + 1 :]:
        for x in w["sessions"]:
            replaced[(x["day"], x["kind"])].append(x["id"])
    data = draft.model_dump(mode="json")
    _add_sessions(session, plan.id, data["weeks"], replaced)
    _drop_sessions(session, [i for ids in replaced.values() for i in ids])
    kept = {n: st for n, st in plan.state["weeks"].items() if int(n) <= number}
    plan.state = {
        "current": verdict.state.model_dump(mode="json"),
        "weeks": kept | _states_json(states, None)["weeks"],
    }
    plan.draft = {**plan.draft, "weeks": [*weeks[: index + 1], *data["weeks"]], "stages": data["stages"]}
    return PlanAdaptation(
        plan_id=plan.id,
        week=number,
        decision=verdict.decision,
        rule=verdict.criterion,
        reasons=verdict.reasons,
        criterion=verdict.criterion,
        from_stage=verdict.from_stage,
        to_stage=verdict.to_stage,
        details=verdict.details,
    )


def _drop_sessions(session: Session, ids: list[str]) -> None:
    """Sessions no longer in the plan go, unless a workout is linked to one."""
    if not ids:
        return
    uuids = [uuid.UUID(i) for i in ids]
    linked = set(session.exec(select(Workout.planned_session_id).where(col(Workout.planned_session_id).in_(uuids))))
    for row in session.exec(select(PlanSession).where(col(PlanSession.id).in_(uuids))).all():
        if row.id not in linked:
            session.delete(row)


def adapt(session: Session, athlete_id: uuid.UUID, plan_id: uuid.UUID, week: int | None) -> s.AdaptationPublic:
    plan = _owned(session, athlete_id, plan_id)
    if plan.status != "active":
        raise Conflict("The plan is archived.")
    if week is None:
        today = utcnow().date()
        finished = [
            w["number"]
            for w in plan.draft["weeks"]
            if dt.date.fromisoformat(w["starts_on"]) + dt.timedelta(days=7) <= today
        ]
        if not finished:
            raise Conflict("No week of this plan has finished yet; name a week to judge it early.")
        week = finished[-1]
    adaptation = _adapt_week(session, plan, week)
    session.commit()
    return _adaptation_public(adaptation)


def on_workout_logged(session: Session, athlete_id: uuid.UUID, planned_session_id: uuid.UUID | None) -> None:
    """When a linked workout completes its week (every session logged), adapt the next week.
    Strength plans also read the week's running, so they wait for the week to end (the long
    run is often after the last strength session): the first workout logged after it judges it."""
    if planned_session_id is None:
        return
    # The session's week and its plan's few columns read here need (not the profile, options
    # and state JSON); the whole plan is loaded only to adapt it.
    row = session.execute(_LOGGED_AGAINST, {"id": planned_session_id}).first()
    if row is None or row.athlete_id != athlete_id or row.status != "active":
        return
    weeks = read_json(row.draft)["weeks"]
    if row.kind == PlanKind.resilience.value:  # strength weeks are judged once they have ended
        today = utcnow().date()
        for week in weeks:
            ended = dt.date.fromisoformat(week["starts_on"]) + dt.timedelta(days=7) <= today
            if week["number"] in (row.week - 1, row.week) and ended and _week_logged(session, week):
                _adapt_if_there(session, row.plan_id, week["number"])
        return
    week = next(w for w in weeks if w["number"] == row.week)
    later = session.execute(_ADAPTED_AFTER, {"plan_id": row.plan_id, "week": row.week}).first()
    if later is None and _week_logged(session, week):  # a late log for a week already passed over changes nothing
        _adapt_if_there(session, row.plan_id, row.week)


def _adapt_if_there(session: Session, plan_id: uuid.UUID, week: int) -> None:
    """Adapt after ``week`` the plan as a whole (unless it was erased a moment ago)."""
    plan = session.get(Plan, plan_id)
    if plan is not None:
        _adapt_week(session, plan, week)


def _check_workout(session: Session, athlete_id: uuid.UUID, fields: dict[str, Any]) -> None:
    check_planned_session(session, athlete_id, fields.get("planned_session_id"))


def _on_workout_saved(session: Session, event: events.Event) -> None:
    on_workout_logged(session, event.athlete_id, training.planned_session_of(session, event.subject_id))


# Plans build on the training log, not the reverse: they hook into its events.
events.add_check("workout", _check_workout)
events.subscribe("workout.created", _on_workout_saved)
events.subscribe("workout.updated", _on_workout_saved)


def _week_logged(session: Session, week: dict[str, Any]) -> bool:
    """Every strength or tendon session of the week has a workout logged against it."""
    wanted = [uuid.UUID(x["id"]) for x in week["sessions"] if x["kind"] not in ("run", "test")]
    done = set(
        session.exec(select(Workout.planned_session_id).where(col(Workout.planned_session_id).in_(wanted))).all()
    )
    return done >= set(wanted)


# ---------------------------------------------------------------- iCalendar


def ical(plan: s.PlanPublic) -> bytes:
    # Imported on the first calendar asked for: icalendar costs every worker's start 0.2 s.
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//runstrong//plans//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"runstrong {plan.kind.value} plan")
    for week in plan.weeks:
        for item in week.sessions:
            event = Event()
            event.add("uid", f"{item.id}@runstrong")
            event.add("dtstamp", plan.created_at)
            event.add("dtstart", item.day)
            event.add("dtend", item.day + dt.timedelta(days=1))
            event.add("summary", f"{item.focus} (week {week.number})")
            lines = [f"{i.name}: {i.sets} x {_volume(i)} - {i.load.text}" for i in item.items]
            if item.run:
                lines.append(f"Run {item.run.distance_km} km, {item.run.effort}")
            if item.test:
                lines += [*item.test.how, f"Log: {item.test.record}", *item.test.passes_when]
            if item.gate:
                lines.append(item.gate)
            if item.times_per_day > 1:
                lines.append("Twice a day: morning and evening.")
            event.add("description", "\n".join(lines))
            calendar.add_component(event)
    return bytes(calendar.to_ical())


def _volume(item: Any) -> str:
    for name, unit in (("reps", ""), ("hold_seconds", " s hold"), ("duration_seconds", " s")):
        value = getattr(item, name)
        if value is not None:
            span = str(value.min) if value.min == value.max else f"{value.min}-{value.max}"
            return span + unit + (" per side" if item.per_side else "")
    return ""
