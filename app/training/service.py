"""The four kinds of training record, the change feed and the export."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import exists
from sqlmodel import Session, col, delete

from app.accounts.models import User, utcnow
from app.catalogue import criteria
from app.catalogue.models import Exercise
from app.core import events
from app.core.db import table_of
from app.core.direct import Direct
from app.core.errors import ContentTooLarge, FieldProblem, InvalidInput
from app.core.ids import new_ids
from app.training import exercise_names, imports, records
from app.training import schemas as s
from app.training.models import Change, CheckIn, ClinicalTest, Run, Workout, WorkoutSet
from app.training.records import Kind

# ---------------------------------------------------------------- workouts

_SET_TABLE = table_of(WorkoutSet)
_INSERT_SETS = Direct(sa.insert(_SET_TABLE).values({c.name: sa.bindparam(c.name) for c in _SET_TABLE.columns}))
_EXERCISE_TABLE = table_of(Exercise)


def _validate_workout(session: Session, athlete_id: uuid.UUID, fields: dict[str, Any]) -> None:
    records.check_not_future(fields.get("started_at"), "started_at")
    events.check(session, "workout", athlete_id, fields)  # e.g. plans: the planned session is the athlete's
    sets = fields.get("sets") or []
    slugs = {item["exercise"] for item in sets}
    known: dict[str, str] = {}
    if slugs:
        known.update(exercise_names.names_of(session, slugs))
    session.info[_NAMES] = known
    problems = [
        FieldProblem(
            name=f"sets.{i}.exercise", location="body", detail=f"no exercise '{item['exercise']}'", type="unknown_slug"
        )
        for i, item in enumerate(sets)
        if item["exercise"] not in known
    ]
    if problems:
        raise InvalidInput.of(problems)


# session.info keys: the names of the exercises a write's sets name (read when they are
# validated), and the sets each workout was given in this session, as _sets_of reads them.
_NAMES = "runstrong.exercise_names"
_WRITTEN = "runstrong.sets_written"


def _insert_sets(session: Session, workout_id: uuid.UUID, sets: list[dict[str, Any]]) -> None:
    """A workout's sets in one multi-row INSERT (no ORM objects). What was written is kept
    for the answer (:func:`_publish_workouts`), which then need not read it back."""
    rows = [
        {
            "id": set_id,
            "workout_id": workout_id,
            "position": item["position"],
            "exercise_slug": item["exercise"],
            "side": str(item.get("side", "both")),
            "reps": item.get("reps"),
            "hold_seconds": item.get("hold_seconds"),
            "load_kg": item.get("load_kg", 0.0),
            "tempo": item.get("tempo"),
            "rpe": item.get("rpe"),
            "rir": item.get("rir"),
            "completed": item.get("completed", True),
        }
        for set_id, item in zip(new_ids(len(sets)), sets, strict=True)
    ]
    written: dict[uuid.UUID, list[dict[str, Any]]] = session.info.setdefault(_WRITTEN, {})
    names: dict[str, str] = session.info.get(_NAMES, {})
    if all(row["exercise_slug"] in names for row in rows):
        written[workout_id] = sorted(
            (
                _answered({**{k: row[k] for k in SET_FIELDS}, "exercise_name": names[row["exercise_slug"]]})
                for row in rows
            ),
            key=lambda item: item["position"],
        )
    else:
        written.pop(workout_id, None)
    if rows:
        _INSERT_SETS.later(session, rows)


WORKOUT_FIELDS = (
    "started_at",
    "utc_offset_minutes",
    "duration_seconds",
    "planned_session_id",
    "session_rpe",
    "pain_during",
    "pain_site",
    "notes",
)


_WORKOUT_TABLE = table_of(Workout)
_INSERT_WORKOUT = Direct(
    sa.insert(_WORKOUT_TABLE).values({c.name: sa.bindparam(c.name) for c in _WORKOUT_TABLE.columns})
)


class WrittenWorkout(NamedTuple):
    """A new workout as its INSERT writes it (WORKOUT_COLUMNS, the table's columns): what
    the write answers from, with no ORM object (the model's constructor validated the
    values again, 55 us, where this takes 1)."""

    id: uuid.UUID
    athlete_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    utc_offset_minutes: int
    duration_seconds: int
    planned_session_id: uuid.UUID | None
    session_rpe: float | None
    pain_during: int | None
    pain_site: str | None
    notes: str | None


def _build_workout(
    session: Session, athlete_id: uuid.UUID, record_id: uuid.UUID, fields: dict[str, Any]
) -> WrittenWorkout:
    """The workout written with one INSERT of its columns (no unit of work to flush), from
    the validated input; a later change reads it from the table."""
    now = utcnow()
    given: dict[str, Any] = {k: fields.get(k) for k in WORKOUT_FIELDS}
    row = WrittenWorkout(record_id, athlete_id, 1, now, now, **given)
    _INSERT_WORKOUT.later(session, row._asdict())
    _insert_sets(session, record_id, fields.get("sets") or [])
    session.info.setdefault(_PLANNED, {})[record_id] = row.planned_session_id
    return row


_PLANNED = "runstrong.planned_sessions"  # session.info: of each workout written here without the ORM
_PLANNED_SESSION_OF = Direct(
    sa.select(_WORKOUT_TABLE.c.planned_session_id).where(_WORKOUT_TABLE.c.id == sa.bindparam("id"))
)


def planned_session_of(session: Session, workout_id: uuid.UUID) -> uuid.UUID | None:
    """The planned session a workout is logged against: from the session's copy when it
    holds one (an update not yet flushed), else as the session wrote it (a new workout is
    written without the ORM), else one column read."""
    loaded = session.identity_map.get(Session.identity_key(Workout, workout_id))
    if isinstance(loaded, Workout):
        return loaded.planned_session_id
    written: dict[uuid.UUID, uuid.UUID | None] = session.info.get(_PLANNED, {})
    if workout_id in written:
        return written[workout_id]
    row = _PLANNED_SESSION_OF.first(session, {"id": workout_id})
    return None if row is None else row.planned_session_id


def _apply_workout(session: Session, row: Workout, fields: dict[str, Any]) -> None:
    for name in WORKOUT_FIELDS:
        if name in fields:
            setattr(row, name, fields[name])
    if fields.get("sets") is not None:
        session.execute(delete(WorkoutSet).where(col(WorkoutSet.workout_id) == row.id))
        _insert_sets(session, row.id, fields["sets"])


# A set's fields as its input names them; their columns (the exercise's is `exercise_slug`).
SET_INPUT = ("position", "exercise", "side", "reps", "hold_seconds", "load_kg", "tempo", "rpe", "rir", "completed")
SET_FIELDS = tuple("exercise_slug" if name == "exercise" else name for name in SET_INPUT)
_SETS = Direct(
    sa.select(
        _SET_TABLE.c.workout_id,
        *(_SET_TABLE.c[name] for name in SET_FIELDS),
        sa.func.coalesce(_EXERCISE_TABLE.c.name, _SET_TABLE.c.exercise_slug).label("exercise_name"),
    )
    .outerjoin(_EXERCISE_TABLE, _EXERCISE_TABLE.c.slug == _SET_TABLE.c.exercise_slug)
    .where(_SET_TABLE.c.workout_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_SET_TABLE.c.workout_id, _SET_TABLE.c.position)
)


def _answered(item: dict[str, Any]) -> dict[str, Any]:
    """A set's values (SET_FIELDS and ``exercise_name``) given the ``exercise`` its answer
    shows, in place: the public model takes the dict as it is."""
    item["exercise"] = {"slug": item["exercise_slug"], "name": item["exercise_name"]}
    return item


def _sets_of(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The sets of these workouts by position, each with its exercise's name: one query,
    each row a dict of SET_FIELDS, ``exercise_name`` and the answer's ``exercise``."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        # Built once: an IN built per call cost more than the read.
        for item in _SETS.dicts(session, {"ids": ids}):
            found[item.pop("workout_id")].append(_answered(item))
    return found


def _load(rpe: float | None, minutes: float) -> float | None:
    return None if rpe is None else round(rpe * minutes, 1)


WORKOUT_COLUMNS = ("id", "athlete_id", "version", "created_at", "updated_at", *WORKOUT_FIELDS)


def values_of(rows: Sequence[Any], columns: Sequence[str]) -> list[dict[str, Any]]:
    """Records' column values: rows read by one statement (straight from the driver's
    tuples, their names taken once: a row's own ``_asdict`` makes a view of its names per
    row) or table rows (attribute by attribute). The public models ignore the rest."""
    names: tuple[str, ...] | None = None
    values = []
    for row in rows:
        if isinstance(row, (sa.Row, tuple)):  # tuple: a named tuple of core.direct
            names = names or row._fields  # type: ignore[attr-defined]
            values.append(dict(zip(names, row, strict=True)))
        else:
            values.append({k: getattr(row, k) for k in columns})
    return values


_WORKOUTS_PUBLIC: TypeAdapter[list[s.WorkoutPublic]] = TypeAdapter(list[s.WorkoutPublic])


def _publish_workouts(session: Session, rows: Sequence[Any]) -> list[s.WorkoutPublic]:
    """Workouts (table rows or rows read from the table) as answered: one query for all
    their sets, one validation for the whole list."""
    written: dict[uuid.UUID, list[dict[str, Any]]] = session.info.get(_WRITTEN, {})
    sets = _sets_of(session, [r.id for r in rows if r.id not in written])
    sets.update((r.id, written[r.id]) for r in rows if r.id in written)
    return _WORKOUTS_PUBLIC.validate_python(
        [
            {
                **values,
                "duration_minutes": s.rounded_minutes(r.duration_seconds),
                "session_load": _load(r.session_rpe, r.duration_seconds / 60),
                "sets": sets[r.id],
            }
            for r, values in zip(rows, values_of(rows, WORKOUT_COLUMNS), strict=True)
        ]
    )


def _snapshot_workout(session: Session, row: Workout) -> dict[str, Any]:
    sets = _sets_of(session, [row.id])[row.id]
    return {
        **{k: getattr(row, k) for k in WORKOUT_FIELDS},
        "sets": [dict(zip(SET_INPUT, (i[k] for k in SET_FIELDS), strict=True)) for i in sets],
    }


WORKOUTS: Kind[Workout, s.WorkoutPublic] = Kind(
    entity="workout",
    label="workout",
    model=Workout,
    order_field="started_at",
    build=_build_workout,
    apply=_apply_workout,
    publish=_publish_workouts,
    snapshot=_snapshot_workout,
    validate=_validate_workout,
)

# ---------------------------------------------------------------- runs, check-ins and clinical tests (flat records)

RUN_FIELDS = (
    "started_at",
    "utc_offset_minutes",
    "distance_km",
    "duration_seconds",
    "session_rpe",
    "type",
    "surface",
    "pain_during",
    "pain_site",
    "notes",
)
CHECKIN_FIELDS = ("date", "sites", "visa_a", "notes")
TEST_FIELDS = ("date", "test", "measure", "left", "right", "affected_side", "pain", "notes")


def _flat_kind(
    entity: records.Entity,
    label: str,
    model: Any,
    order_field: str,
    names: tuple[str, ...],
    public: Any,
    extra: Any,
    validate: Any,
) -> Kind[Any, Any]:
    def build(session: Session, athlete_id: uuid.UUID, record_id: uuid.UUID, fields: dict[str, Any]) -> Any:
        row = model(id=record_id, athlete_id=athlete_id, **{k: _plain(fields.get(k)) for k in names if k in fields})
        session.add(row)
        return row

    def apply(_session: Session, row: Any, fields: dict[str, Any]) -> None:
        for name in names:
            if name in fields:
                setattr(row, name, _plain(fields[name]))

    columns = tuple(c.name for c in model.__table__.columns)
    many: TypeAdapter[list[Any]] = TypeAdapter(list[public])

    def publish(_session: Session, rows: Sequence[Any]) -> list[Any]:
        return many.validate_python(
            [{**values, **extra(r)} for r, values in zip(rows, values_of(rows, columns), strict=True)]
        )

    def snapshot(_session: Session, row: Any) -> dict[str, Any]:
        return {k: getattr(row, k) for k in names}

    return Kind(
        entity=entity,
        label=label,
        model=model,
        order_field=order_field,
        build=build,
        apply=apply,
        publish=publish,
        snapshot=snapshot,
        validate=validate,
    )


def _plain(value: Any) -> Any:
    """Enums to their values, nested models already dumped to dicts."""
    return value.value if hasattr(value, "value") else value


def _day_not_future(_session: Session, _athlete_id: uuid.UUID, fields: dict[str, Any]) -> None:
    records.check_not_future(fields.get("date"), "date")


RUNS: Kind[Run, s.RunPublic] = _flat_kind(
    "run",
    "run",
    Run,
    "started_at",
    RUN_FIELDS,
    s.RunPublic,
    lambda r: {
        "duration_s": r.duration_seconds,
        "pace_seconds_per_km": round(r.duration_seconds / r.distance_km, 1),
        "pace_s_per_km": round(r.duration_seconds / r.distance_km, 1),
        "session_load": _load(r.session_rpe, r.duration_seconds / 60),
    },
    lambda _s, _a, f: records.check_not_future(f.get("started_at"), "started_at"),
)
CHECKINS: Kind[CheckIn, s.CheckInPublic] = _flat_kind(
    "checkin",
    "check-in",
    CheckIn,
    "date",
    CHECKIN_FIELDS,
    s.CheckInPublic,
    lambda _r: {},
    _day_not_future,
)


def _test_derived(row: ClinicalTest) -> dict[str, Any]:
    return {
        "limb_symmetry_index": criteria.limb_symmetry_index(row.left, row.right, row.affected_side),
        "passed": criteria.verdict(row.test, row.measure, row.left, row.right, row.affected_side, row.pain),
    }


def _check_test(fields: dict[str, Any], current: ClinicalTest) -> None:
    """The test, measure and sides must still fit together once ``fields`` are applied."""
    merged = {k: fields[k] if k in fields else getattr(current, k) for k in ("test", "measure", "left", "right")}
    found = criteria.problems(_plain(merged["test"]), _plain(merged["measure"]), merged["left"], merged["right"])
    if found:
        raise InvalidInput.of(
            [FieldProblem(name=name, location="body", detail=detail, type="value_error") for name, detail in found]
        )


def _tests_kind() -> Kind[ClinicalTest, s.ClinicalTestPublic]:
    flat: Kind[ClinicalTest, s.ClinicalTestPublic] = _flat_kind(
        "test",
        "clinical test",
        ClinicalTest,
        "date",
        TEST_FIELDS,
        s.ClinicalTestPublic,
        _test_derived,
        _day_not_future,
    )

    def apply(session: Session, row: ClinicalTest, fields: dict[str, Any]) -> None:
        _check_test(fields, row)  # a patch may change one of them
        flat.apply(session, row, fields)

    return dataclasses.replace(flat, apply=apply)


TESTS = _tests_kind()
KINDS: dict[str, Kind[Any, Any]] = {k.entity: k for k in (WORKOUTS, RUNS, CHECKINS, TESTS)}


# ---------------------------------------------------------------- run import

MAX_UPLOAD_BYTES = imports.MAX_UPLOAD_BYTES


def _clean_name(name: str | None) -> str | None:
    """A file's activity name as notes: printable, at most 200 characters."""
    if not name:
        return None
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    return cleaned or None


def run_from_file(
    data: bytes,
    filename: str | None,
    content_type: str | None,
    run_type: s.RunType,
    session_rpe: float | None,
    pain_during: int | None,
    budget_s: float = imports.DECODE_BUDGET_S,
) -> tuple[s.RunIn, str]:
    """The run a FIT or GPX file describes, and its source; a bad file is a 422 naming `file`,
    one with more than an import reads a 413. The file is read for at most ``budget_s``."""
    try:
        parsed = imports.parse_activity(data, filename, content_type, budget_s=budget_s)
    except imports.ActivityTooLarge as exc:
        raise ContentTooLarge(str(exc)) from exc
    except imports.ActivityImportError as exc:
        raise InvalidInput(str(exc), name="file", location="body") from exc
    try:  # the file's run within the bounds of one entered by hand, or a 422 naming the file
        body = s.RunIn(
            started_at=parsed.started_at,
            distance_km=round(parsed.distance_km, 3),
            duration_seconds=parsed.duration_s,
            type=run_type,
            session_rpe=session_rpe,
            pain_during=pain_during,
            notes=_clean_name(parsed.name),
        )
        records.check_not_future(body.started_at, "started_at")
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise InvalidInput(
            f"the run in the file is out of range: {field} {error['msg']}", name="file", location="body"
        ) from exc
    except InvalidInput as exc:
        raise InvalidInput(f"the run in the file is out of range: {exc.detail}", name="file", location="body") from exc
    return body, parsed.source


def create_imported_run(session: Session, athlete_id: uuid.UUID, body: s.RunIn, source: str) -> Run:
    written = records.create(session, RUNS, athlete_id, body)
    row = session.get(Run, written.id)  # the object the create added: from the identity map
    assert row is not None
    row.source = source
    session.flush()
    return row


# ---------------------------------------------------------------- lists with filters


def day_bounds(
    session: Session, athlete_id: uuid.UUID, first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """A date range in the athlete's time zone as UTC instants [start, end) (no read when
    there is no range)."""
    if first is None and last is None:
        return None, None
    timezone = session.execute(sa.select(col(User.timezone)).where(col(User.id) == athlete_id)).scalar()
    zone = ZoneInfo(timezone or "UTC")
    start = datetime.combine(first, time.min, zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, zone) if last else None
    return start, end


def list_records(
    session: Session,
    kind: Kind[Any, Any],
    athlete_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    first: date | None,
    last: date | None,
    exercise: str | None = None,
) -> tuple[list[Any], str | None]:
    if first and last and first > last:
        raise InvalidInput("'from' is after 'to'.", name="from")
    where = []
    if kind.order_field == "date":
        if first:
            where.append(col(kind.model.date) >= first)
        if last:
            where.append(col(kind.model.date) <= last)
    else:
        start, end = day_bounds(session, athlete_id, first, last)
        if start:
            where.append(col(kind.model.started_at) >= start)
        if end:
            where.append(col(kind.model.started_at) < end)
    if exercise:
        where.append(
            exists().where(col(WorkoutSet.workout_id) == col(Workout.id), col(WorkoutSet.exercise_slug) == exercise)
        )
    return records.page(session, kind, athlete_id, limit=limit, cursor=cursor, where=where)


# ---------------------------------------------------------------- change feed


_CHANGE_TABLE = table_of(Change)
_CHANGES = Direct(
    sa.select(_CHANGE_TABLE)
    .where(_CHANGE_TABLE.c.athlete_id == sa.bindparam("athlete_id"), _CHANGE_TABLE.c.seq > sa.bindparam("since"))
    .order_by(_CHANGE_TABLE.c.seq)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)


def changes(session: Session, athlete_id: uuid.UUID, since: int, limit: int) -> s.ChangeFeed:
    """Read-only: rows straight into the public models, one query per kind of record."""
    rows = _CHANGES.rows(session, {"athlete_id": athlete_id, "since": since, "limit": limit + 1})
    more = len(rows) > limit
    rows = rows[:limit]
    current: dict[tuple[str, uuid.UUID], Any] = {}
    upserted: dict[str, list[uuid.UUID]] = defaultdict(list)  # one pass over the page, per kind
    for entity, entity_id, op in ((c.entity, c.entity_id, c.op) for c in rows):
        if op == "upsert":
            upserted[entity].append(entity_id)
    for entity, kind in KINDS.items():
        if ids := upserted.get(entity):
            found = kind.by_ids.rows(session, {"ids": ids})
            for public in kind.publish(session, found):
                current[(entity, public.id)] = public
    return s.ChangeFeed.model_validate(
        {
            "changes": [
                {
                    "seq": c.seq,
                    "entity": c.entity,
                    "id": c.entity_id,
                    "op": c.op,
                    "version": c.version,
                    "changed_at": c.changed_at,
                    "record": current.get((c.entity, c.entity_id)),
                }
                for c in rows
            ],
            "next_since": rows[-1].seq if rows else since,
            "has_more": more,
        }
    )


# ---------------------------------------------------------------- export (streamed)

EXPORT_BATCH = 500
CSV_COLUMNS = [
    "workout_id",
    "started_at",
    "duration_minutes",
    "session_rpe",
    "pain_during",
    "pain_site",
    "notes",
    *SET_INPUT,
    "duration_seconds",
]


Sessions = Callable[[], AbstractContextManager[Session]]


def _batches(sessions: Sessions, kind: Kind[Any, Any], athlete_id: uuid.UUID) -> Iterator[list[Any]]:
    """Every record of a kind in keyset batches, each batch in a short read of its own."""
    cursor: str | None = None
    while True:
        with sessions() as session:
            items, cursor = records.page(session, kind, athlete_id, limit=EXPORT_BATCH, cursor=cursor)
        if items:
            yield items
        if cursor is None:
            return


def export_json(sessions: Sessions, athlete_id: uuid.UUID) -> Iterator[bytes]:
    yield json.dumps({"athlete_id": str(athlete_id), "exported_at": utcnow().isoformat()})[:-1].encode()
    for entity, key in (("workout", "workouts"), ("run", "runs"), ("checkin", "checkins"), ("test", "tests")):
        yield f', "{key}": ['.encode()
        first = True
        for batch in _batches(sessions, KINDS[entity], athlete_id):
            for item in batch:
                yield (b"" if first else b",") + item.model_dump_json().encode()
                first = False
        yield b"]"
    yield b"}\n"


def export_csv(sessions: Sessions, athlete_id: uuid.UUID) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return data

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for batch in _batches(sessions, WORKOUTS, athlete_id):
        for w in batch:
            head = [
                w.id,
                w.started_at.isoformat(),
                w.duration_minutes,
                w.session_rpe,
                w.pain_during,
                w.pain_site,
                w.notes,
            ]
            for item in w.sets or [None]:
                tail = (
                    [
                        item.position,
                        item.exercise.slug,
                        item.side.value,
                        item.reps,
                        item.hold_seconds,
                        item.load_kg,
                        item.tempo,
                        item.rpe,
                        item.rir,
                        item.completed,
                    ]
                    if item is not None
                    else [""] * 10
                )
                writer.writerow([csv_cell(v) for v in [*head, *tail, w.duration_seconds]])
        yield flush()


# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and carriage
# return, strips them and reads what follows as one).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell: user text that a spreadsheet would run as a formula (``=HYPERLINK(...)``,
    ``@SUM(A1)``, ``-2+3``) gets a leading single quote, as OWASP advises, so it is shown as
    text. Numbers are written as numbers, negative ones included."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
