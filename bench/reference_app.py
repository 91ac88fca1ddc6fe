"""A plain reference app: what runstrong's routes cost on the bare stack.

Starlette (no FastAPI, no middleware, no ORM, no response models), raw SQL (sqlite3, or
psycopg's async connections for PostgreSQL) and PyJWT, on the same database runstrong
uses, at the same paths. It checks the bearer access token as runstrong does (HS256
signature with the same secret, expiry, ``typ`` and the token's login-session row) and
serves the same rows and fields, serialised with ``json.dumps``. It does less than
runstrong on purpose: no coach grants (only the caller's own data, ``me`` or their id),
no idempotency record, no change feed entry, no events, no rate limit, no access log, no
metrics, no input validation beyond what the database and the plan engine need. See
bench/versus.py, which measures runstrong against it, and bench/README.md.

Run it with ``uvicorn --app-dir bench reference_app:create_app --factory`` and
``REFERENCE_DATABASE_URL`` (``sqlite:///path.db`` or ``postgresql+psycopg://...``) and
``REFERENCE_SECRET_KEY`` (runstrong's ``RUNSTRONG_SECRET_KEY``) in the environment.
"""

# ruff: noqa: S608 (SQL is built from constants and placeholder counts; values are bound)
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import jwt
import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.analytics import metrics as m
from app.plans import schemas as plan_schemas
from app.plans import service as plan_service

UTC = dt.UTC
PG_CONNECTIONS = 8
Row = tuple[Any, ...]

# ---------------------------------------------------------------- database


class Database:
    """The few things the handlers need from either database, with SQL written for sqlite3
    (``?`` placeholders; PostgreSQL gets ``%s``) and values converted at the edges: SQLite
    keeps UUIDs as 32 hex digits and timestamps as naive UTC text, as SQLAlchemy stores them."""

    sqlite: bool

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def transaction(self, work: Callable[[Any], Any]) -> Any:
        """Run ``work(cursor)`` in one transaction (for writes)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def id(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def ts(self, value: dt.datetime) -> Any:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def out_id(self, value: Any) -> str | None:
        if value is None:
            return None
        return str(uuid.UUID(value)) if self.sqlite else str(value)

    def out_ts(self, value: Any) -> str:
        if self.sqlite:
            return str(value).replace(" ", "T") + "Z"
        return str(value.isoformat())

    def instant(self, value: Any) -> dt.datetime:
        if self.sqlite:
            return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]

    def out_json(self, value: Any) -> Any:
        return json.loads(value) if self.sqlite and isinstance(value, str) else value

    def marks(self, count: int) -> str:
        return ",".join("?" * count)


class SQLite(Database):
    """One connection, used on the event loop: every query is a few hundred microseconds of
    CPU on one core, so a thread pool would only add hops."""

    sqlite = True

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
            self.conn.execute(f"PRAGMA {pragma}")

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, args).fetchall()

    async def transaction(self, work: Callable[[Any], Any]) -> Any:
        cursor = self.conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            result = work(cursor)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
        return result

    async def close(self) -> None:
        self.conn.close()


class PostgreSQL(Database):
    """A fixed set of psycopg async connections handed out through a queue."""

    sqlite = False

    def __init__(self, connections: list[psycopg.AsyncConnection[Any]]) -> None:
        self.free: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        for conn in connections:
            self.free.put_nowait(conn)
        self.all = connections

    @classmethod
    async def open(cls, url: str) -> PostgreSQL:
        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        return cls([await psycopg.AsyncConnection.connect(conninfo, autocommit=True) for _ in range(PG_CONNECTIONS)])

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        conn = await self.free.get()
        try:
            cursor = await conn.execute(sql.replace("?", "%s"), args)
            return await cursor.fetchall()
        finally:
            self.free.put_nowait(conn)

    async def transaction(self, work: Callable[[Any], Any]) -> Any:
        conn = await self.free.get()
        try:
            async with conn.transaction():
                cursor = conn.cursor()
                return await work(_PgCursor(cursor))
        finally:
            self.free.put_nowait(conn)

    async def close(self) -> None:
        for conn in self.all:
            await conn.close()


class _PgCursor:
    """The async cursor with sqlite3's placeholders."""

    def __init__(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        self.cursor = cursor

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        await self.cursor.execute(sql.replace("?", "%s"), args)
        return await self.cursor.fetchall() if self.cursor.description else []

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        await self.cursor.executemany(sql.replace("?", "%s"), args)


# ---------------------------------------------------------------- answers


class Problem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status, headers, media_type="application/json")


def problem(exc: Problem) -> Response:
    return answer({"title": exc.detail, "status": exc.status}, exc.status)


def db_of(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def caller(request: Request, scope: str) -> tuple[Database, Any]:
    """The athlete whose data the path names, after runstrong's token check: the signature,
    expiry and type of the JWT, its scope, and its login session (not revoked, same user)."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        raise Problem(401, "Send credentials as `Authorization: Bearer <token>`.")
    try:
        claims = jwt.decode(
            header[7:],
            request.app.state.secret,
            algorithms=["HS256"],
            options={"require": ["sub", "exp", "iat", "typ", "sid"]},
        )
    except jwt.PyJWTError:
        raise Problem(401, "The access token is invalid or expired.") from None
    if claims["typ"] != "access" or scope not in str(claims.get("scope", "")).split():
        raise Problem(401 if claims["typ"] != "access" else 403, "The access token does not allow this.")
    db = db_of(request)
    user_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    found = await db.rows("SELECT user_id, revoked_at FROM login_session WHERE id = ?", (db.id(session_id),))
    if not found or db.out_id(found[0][0]) != str(user_id) or found[0][1] is not None:
        raise Problem(401, "This login has ended; log in again.")
    athlete = request.path_params["athlete_id"]
    if athlete not in ("me", str(user_id)):
        raise Problem(404, f"No athlete '{athlete}'.")
    return db, db.id(user_id)


# ---------------------------------------------------------------- workouts

WORKOUT_COLUMNS = (
    "id, athlete_id, version, created_at, updated_at, started_at, utc_offset_minutes, duration_seconds, "
    "planned_session_id, session_rpe, pain_during, pain_site, notes"
)
SET_SQL = (
    "SELECT s.workout_id, s.position, s.exercise_slug, e.name, s.side, s.reps, s.hold_seconds, s.load_kg, s.tempo, "
    "s.rpe, s.rir, s.completed FROM workout_set s JOIN exercise e ON e.slug = s.exercise_slug "
    "WHERE s.workout_id IN ({}) ORDER BY s.workout_id, s.position"
)


def _start(db: Database, value: Any, offset: int) -> str:
    if not offset:
        return db.out_ts(value)
    return db.instant(value).astimezone(dt.timezone(dt.timedelta(minutes=offset))).isoformat()


def _set(row: Row) -> dict[str, Any]:
    return {
        "position": row[1],
        "exercise": {"slug": row[2], "name": row[3]},
        "side": row[4],
        "reps": row[5],
        "hold_seconds": row[6],
        "load_kg": row[7],
        "tempo": row[8],
        "rpe": row[9],
        "rir": row[10],
        "completed": bool(row[11]),
    }


def _versioned(db: Database, row: Row) -> dict[str, Any]:
    """The fields every record starts with: id, athlete_id, version, created_at, updated_at."""
    return {
        "id": db.out_id(row[0]),
        "athlete_id": db.out_id(row[1]),
        "version": row[2],
        "created_at": db.out_ts(row[3]),
        "updated_at": db.out_ts(row[4]),
    }


def _workout(db: Database, row: Row, sets: list[dict[str, Any]]) -> dict[str, Any]:
    seconds, rpe = row[7], row[9]
    return _versioned(db, row) | {
        "started_at": _start(db, row[5], row[6]),
        "duration_seconds": seconds,
        "duration_minutes": max(1, (seconds + 30) // 60),
        "planned_session_id": db.out_id(row[8]),
        "session_rpe": rpe,
        "session_load": None if rpe is None else round(rpe * seconds / 60, 1),
        "pain_during": row[10],
        "pain_site": row[11],
        "notes": row[12],
        "sets": sets,
    }


async def _workouts(db: Database, rows: list[Row]) -> list[dict[str, Any]]:
    if not rows:
        return []
    sets: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for item in await db.rows(SET_SQL.format(db.marks(len(rows))), [r[0] for r in rows]):
        sets[item[0]].append(_set(item))
    return [_workout(db, r, sets[r[0]]) for r in rows]


def _cursor(value: str, record_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, record_id]).encode()).decode().rstrip("=")


async def list_workouts(request: Request) -> Response:
    try:
        db, athlete = await caller(request, "training:read")
        limit = int(request.query_params.get("limit", "20"))
        if not 1 <= limit <= 100:
            raise Problem(422, "limit must be 1-100")
        sql = f"SELECT {WORKOUT_COLUMNS} FROM workout WHERE athlete_id = ?"
        args: list[Any] = [athlete]
        if cursor := request.query_params.get("cursor"):
            started, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            sql += " AND (started_at < ? OR (started_at = ? AND id < ?))"
            when = db.ts(dt.datetime.fromisoformat(started))
            args += [when, when, db.id(uuid.UUID(last_id))]
        rows = await db.rows(sql + " ORDER BY started_at DESC, id DESC LIMIT ?", [*args, limit + 1])
    except Problem as exc:
        return problem(exc)
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _workouts(db, rows)
    next_cursor = _cursor(db.instant(rows[-1][5]).isoformat(), items[-1]["id"]) if more else None
    headers = {"link": f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'} if next_cursor else None
    return answer({"items": items, "next_cursor": next_cursor}, headers=headers)


async def get_workout(request: Request) -> Response:
    try:
        db, athlete = await caller(request, "training:read")
        record_id = uuid.UUID(request.path_params["workout_id"])
        rows = await db.rows(f"SELECT {WORKOUT_COLUMNS} FROM workout WHERE id = ?", (db.id(record_id),))
        if not rows or rows[0][1] != athlete:
            raise Problem(404, f"No workout '{record_id}'.")
    except (Problem, ValueError) as exc:
        return problem(exc if isinstance(exc, Problem) else Problem(404, "No such workout."))
    return answer((await _workouts(db, rows))[0], headers={"etag": f'"{rows[0][2]}"'})


async def create_workout(request: Request) -> Response:
    """One transaction: the names of the sets' exercises (an unknown one is a 422), the
    workout and its sets (executemany); 201 with the workout as runstrong answers it."""
    try:
        db, athlete = await caller(request, "training:write")
        body = json.loads(await request.body())
        started = dt.datetime.fromisoformat(body["started_at"])
        seconds = int(body["duration_seconds"]) if "duration_seconds" in body else int(body["duration_minutes"]) * 60
        sets = body.get("sets") or []
    except Problem as exc:
        return problem(exc)
    except (ValueError, KeyError, TypeError):
        return problem(Problem(422, "The body is not a workout."))
    now = dt.datetime.now(UTC)
    shift = started.utcoffset()
    offset = int(shift.total_seconds() // 60) if shift is not None else 0
    record_id = uuid.uuid4()
    slugs = sorted({item["exercise"] for item in sets})
    workout = (
        db.id(record_id),
        athlete,
        db.ts(started),
        offset,
        seconds,
        body.get("session_rpe"),
        body.get("pain_during"),
        body.get("pain_site"),
        body.get("notes"),
        1,
        db.ts(now),
        db.ts(now),
    )
    insert_workout = (
        "INSERT INTO workout (id, athlete_id, started_at, utc_offset_minutes, duration_seconds, session_rpe, "
        "pain_during, pain_site, notes, version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    insert_sets = (
        "INSERT INTO workout_set (id, workout_id, position, exercise_slug, side, reps, hold_seconds, load_kg, tempo, "
        "rpe, rir, completed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    set_rows = [
        (
            db.id(uuid.uuid4()),
            db.id(record_id),
            item["position"],
            item["exercise"],
            item.get("side", "both"),
            item.get("reps"),
            item.get("hold_seconds"),
            float(item.get("load_kg", 0)),
            item.get("tempo"),
            item.get("rpe"),
            item.get("rir"),
            item.get("completed", True),
        )
        for item in sets
    ]
    names_sql = f"SELECT slug, name FROM exercise WHERE slug IN ({db.marks(len(slugs))})"

    def check(names: dict[str, str]) -> None:
        if unknown := [s for s in slugs if s not in names]:
            raise Problem(422, f"no exercise '{unknown[0]}'")

    if db.sqlite:

        def work(cursor: Any) -> dict[str, str]:
            names = dict(cursor.execute(names_sql, slugs).fetchall()) if slugs else {}
            check(names)
            cursor.execute(insert_workout, workout)
            cursor.executemany(insert_sets, set_rows)
            return names

    else:

        async def work(cursor: Any) -> dict[str, str]:  # type: ignore[misc]
            names = dict(await cursor.execute(names_sql, slugs)) if slugs else {}
            check(names)
            await cursor.execute(insert_workout, workout)
            await cursor.executemany(insert_sets, set_rows)
            return names

    try:
        names = await db.transaction(work)
    except Problem as exc:
        return problem(exc)
    stored = (workout[0], athlete, 1, workout[10], workout[11], workout[2], offset, seconds, None, *workout[5:9])
    public = _workout(
        db,
        stored,
        [_set((None, r[2], r[3], names[r[3]], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11])) for r in set_rows],
    )
    location = f"/v1/athletes/{db.out_id(athlete)}/workouts/{record_id}"
    return answer(public, 201, {"etag": '"1"', "location": location})


# ---------------------------------------------------------------- change feed

RUN_COLUMNS = (
    "id, athlete_id, version, created_at, updated_at, started_at, utc_offset_minutes, distance_km, duration_seconds, "
    "session_rpe, type, surface, pain_during, pain_site, notes, source"
)
CHECKIN_COLUMNS = "id, athlete_id, version, created_at, updated_at, date, sites, visa_a, notes"
TEST_COLUMNS = (
    "id, athlete_id, version, created_at, updated_at, date, test, measure, left, right, affected_side, pain, notes"
)


def _run(db: Database, r: Row) -> dict[str, Any]:
    seconds, km, rpe = r[8], r[7], r[9]
    pace = round(seconds / km, 1)
    return _versioned(db, r) | {
        "started_at": _start(db, r[5], r[6]),
        "distance_km": km,
        "duration_seconds": seconds,
        "duration_s": seconds,
        "pace_seconds_per_km": pace,
        "pace_s_per_km": pace,
        "session_rpe": rpe,
        "session_load": None if rpe is None else round(rpe * seconds / 60, 1),
        "type": r[10],
        "surface": r[11],
        "pain_during": r[12],
        "pain_site": r[13],
        "notes": r[14],
        "source": r[15],
    }


def _flat(db: Database, names: str, r: Row) -> dict[str, Any]:
    record = dict(zip(names.split(", "), r, strict=True)) | _versioned(db, r) | {"date": str(r[5])}
    if "sites" in record:
        record["sites"] = db.out_json(record["sites"])
    return record


async def changes(request: Request) -> Response:
    try:
        db, athlete = await caller(request, "training:read")
        since = int(request.query_params.get("since", "0"))
        limit = int(request.query_params.get("limit", "100"))
        if since < 0 or not 1 <= limit <= 500:
            raise Problem(422, "since >= 0, limit 1-500")
    except Problem as exc:
        return problem(exc)
    rows = await db.rows(
        'SELECT seq, entity, entity_id, op, version, changed_at FROM "change" WHERE athlete_id = ? AND seq > ? '
        "ORDER BY seq LIMIT ?",
        (athlete, since, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    current: dict[tuple[str, Any], dict[str, Any]] = {}
    for entity, table, columns in (
        ("workout", "workout", WORKOUT_COLUMNS),
        ("run", "run", RUN_COLUMNS),
        ("checkin", "checkin", CHECKIN_COLUMNS),
        ("test", "clinical_test", TEST_COLUMNS),
    ):
        ids = [c[2] for c in rows if c[1] == entity and c[3] == "upsert"]
        if not ids:
            continue
        found = await db.rows(f"SELECT {columns} FROM {table} WHERE id IN ({db.marks(len(ids))})", ids)
        if entity == "workout":
            records = await _workouts(db, found)
        elif entity == "run":
            records = [_run(db, r) for r in found]
        else:
            records = [_flat(db, columns, r) for r in found]
        for row, record in zip(found, records, strict=True):
            current[entity, row[0]] = record
    feed = [
        {
            "seq": c[0],
            "entity": c[1],
            "id": db.out_id(c[2]),
            "op": c[3],
            "version": c[4],
            "changed_at": db.out_ts(c[5]),
            "record": current.get((c[1], c[2])),
        }
        for c in rows
    ]
    return answer({"changes": feed, "next_since": rows[-1][0] if rows else since, "has_more": more})


# ---------------------------------------------------------------- plans


async def get_plan(request: Request) -> Response:
    """The stored draft, each session's linked workouts and the adaptations, as runstrong's
    ``service.get_plan`` reads them."""
    try:
        db, athlete = await caller(request, "plans:read")
        plan_id = db.id(uuid.UUID(request.path_params["plan_id"]))
        found = await db.rows("SELECT athlete_id, status, created_at, draft FROM plan WHERE id = ?", (plan_id,))
        if not found or found[0][0] != athlete:
            raise Problem(404, "No such plan.")
    except (Problem, ValueError) as exc:
        return problem(exc if isinstance(exc, Problem) else Problem(404, "No such plan."))
    owner, status, created, draft = found[0]
    linked: dict[str | None, list[str | None]] = defaultdict(list)
    for workout_id, session_id in await db.rows(
        "SELECT id, planned_session_id FROM workout WHERE athlete_id = ? AND planned_session_id IN "
        "(SELECT id FROM plan_session WHERE plan_id = ?) ORDER BY started_at",
        (athlete, plan_id),
    ):
        linked[db.out_id(session_id)].append(db.out_id(workout_id))
    adaptations = await db.rows(
        "SELECT week, decision, rule, reasons, criterion, from_stage, to_stage, details, created_at "
        "FROM plan_adaptation WHERE plan_id = ? ORDER BY week",
        (plan_id,),
    )
    data = dict(db.out_json(draft))
    for week in data["weeks"]:
        for item in week["sessions"]:
            item["workouts"] = linked.get(item["id"], [])
    data |= {
        "id": str(uuid.UUID(request.path_params["plan_id"])),
        "athlete_id": db.out_id(owner),
        "status": status,
        "created_at": db.out_ts(created),
        "adaptations": [
            {
                "week": a[0],
                "decision": a[1],
                "rule": a[2],
                "reasons": db.out_json(a[3]),
                "criterion": a[4] or a[2],
                "from_stage": a[5],
                "to_stage": a[6],
                "details": db.out_json(a[7]),
                "created_at": db.out_ts(a[8]),
            }
            for a in adaptations
        ],
    }
    return answer(data)


async def preview_plan(request: Request) -> Response:
    """The same call runstrong's preview makes: the request model, then the engine."""
    try:
        body = plan_schemas.PreviewRequest.model_validate_json(await request.body())
        draft = plan_service.preview(body)
    except Exception as exc:  # pydantic's ValidationError, the engine's InvalidInput
        return answer({"title": str(exc)[:200], "status": 422}, 422)
    return answer(draft.model_dump(mode="json"))


# ---------------------------------------------------------------- analytics


def _window(request: Request, default_days: int) -> tuple[dt.date, dt.date]:
    last = dt.date.fromisoformat(request.query_params.get("to") or dt.datetime.now(UTC).date().isoformat())
    given = request.query_params.get("from")
    return (dt.date.fromisoformat(given) if given else last - dt.timedelta(days=default_days - 1)), last


async def _zone(db: Database, athlete: Any) -> ZoneInfo:
    found = await db.rows('SELECT timezone FROM "user" WHERE id = ?', (athlete,))
    return ZoneInfo(found[0][0] if found else "UTC")


async def load(request: Request) -> Response:
    """Weekly load from the same rows runstrong's ``analytics.service.load`` reads, summed
    with the same formulas (app.analytics.metrics) into plain dicts."""
    try:
        db, athlete = await caller(request, "training:read")
        first, last = _window(request, 12 * 7)
        threshold = float(request.query_params.get("threshold", "10"))
    except (Problem, ValueError) as exc:
        return problem(exc if isinstance(exc, Problem) else Problem(422, "Bad query."))
    zone = await _zone(db, athlete)
    start, end = m.week_start(first), m.week_start(last) + dt.timedelta(days=6)
    history_from = start - dt.timedelta(days=28)
    bounds = (
        athlete,
        db.ts(dt.datetime.combine(history_from, dt.time.min, zone)),
        db.ts(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone)),
    )
    runs = await db.rows(
        "SELECT started_at, distance_km, duration_seconds, session_rpe FROM run "
        "WHERE athlete_id = ? AND started_at >= ? AND started_at < ?",
        bounds,
    )
    workouts = await db.rows(
        "SELECT id, started_at, duration_seconds, session_rpe FROM workout "
        "WHERE athlete_id = ? AND started_at >= ? AND started_at < ?",
        bounds,
    )
    firsts = await db.rows(
        "SELECT (SELECT min(started_at) FROM run WHERE athlete_id = ?), "
        "(SELECT min(started_at) FROM workout WHERE athlete_id = ?)",
        (athlete, athlete),
    )
    days_logged = [db.instant(x).astimezone(zone).date() for x in firsts[0] if x is not None]
    first_logged = min(days_logged, default=None)
    groups: dict[str, set[str]] = defaultdict(set)
    for exercise, muscle, group in await db.rows(
        "SELECT l.exercise_slug, mu.slug, mu.group_slug FROM exercise_muscle l JOIN muscle mu ON mu.slug = "
        "l.muscle_slug WHERE l.role = 'primary'"
    ):
        groups[exercise].add(group or muscle)
    done: dict[Any, list[str]] = defaultdict(list)
    if workouts:
        for workout_id, exercise in await db.rows(
            f"SELECT workout_id, exercise_slug FROM workout_set WHERE workout_id IN ({db.marks(len(workouts))}) "
            f"AND completed = {'1' if db.sqlite else 'true'}",
            [w[0] for w in workouts],
        ):
            done[workout_id].append(exercise)
    # (day, km, seconds, rpe, workout id or None)
    logged = [(db.instant(r[0]).astimezone(zone).date(), r[1], r[2], r[3], None) for r in runs]
    logged += [(db.instant(w[1]).astimezone(zone).date(), 0.0, w[2], w[3], w[0]) for w in workouts]
    by_week: dict[dt.date, list[tuple[dt.date, float, int, float | None, Any]]] = defaultdict(list)
    for item in logged:
        by_week[m.week_start(item[0])].append(item)
    loads = [(day, m.session_load(rpe, seconds / 60)) for day, _, seconds, rpe, _ in logged]
    daily = dict(zip(m.days(history_from, end), m.daily_totals(loads, history_from, end), strict=True))
    weeks: list[dict[str, Any]] = []
    previous_km: float | None = None
    monday = start - dt.timedelta(days=7)
    while monday <= end:
        sunday = monday + dt.timedelta(days=6)
        entries = by_week[monday]
        week_runs = [e for e in entries if e[4] is None]
        km = round(sum(e[1] for e in week_runs), 2)
        if monday >= start:
            sets: dict[str, int] = defaultdict(int)
            for e in entries:
                for exercise in done.get(e[4], ()) if e[4] is not None else ():
                    for group in groups.get(exercise, ()):
                        sets[group] += 1
            week_daily = [daily[d] for d in m.days(monday, sunday)]
            spread = m.monotony(week_daily)
            ratio = m.acwr([daily[d] for d in m.days(sunday - dt.timedelta(days=27), sunday)])
            history = 0 if first_logged is None else (sunday - first_logged).days + 1
            note = None
            if history < m.ACWR_HISTORY_DAYS:
                ratio, note = None, f"Needs {m.ACWR_HISTORY_DAYS} days of history; {max(history, 0)} so far."
            elif ratio is None:
                note = "No load with a session RPE in the last 28 days."
            change = m.percent_change(previous_km, km) if previous_km is not None else None
            returned = bool(previous_km == 0 and km > 0 and first_logged and first_logged < monday - dt.timedelta(7))
            unrated = sum(1 for e in entries if e[3] is None)
            band = m.acwr_band(ratio)
            warnings = []
            if change is not None and change > threshold:
                warnings.append(f"Running distance rose {change:g}%, above the {threshold:g}% threshold.")
            if unrated:
                warnings.append(f"{unrated} session(s) without a session RPE: their load is unknown.")
            run_seconds = sum(e[2] for e in week_runs)
            weeks.append(
                {
                    "week_start": monday.isoformat(),
                    "running_km": km,
                    "running_seconds": run_seconds,
                    "running_minutes": round(run_seconds / 60, 1),
                    "runs": len(week_runs),
                    "workouts": len(entries) - len(week_runs),
                    "strength_sets": dict(sorted(sets.items())),
                    "load": round(sum(week_daily), 1),
                    "monotony": spread.monotony,
                    "strain": spread.strain,
                    "distance_change_pct": change,
                    "distance_warning": change is not None and change > threshold,
                    "acwr": ratio,
                    "acwr_flag": None
                    if ratio is None
                    else "low"
                    if ratio < m.ACWR_LOW
                    else "high"
                    if ratio > m.ACWR_HIGH
                    else None,
                    "acwr_band": band,
                    "acwr_note": note,
                    "previous_running_km": previous_km,
                    "return_from_zero": returned,
                    "sessions_without_rpe": unrated,
                    "warnings": warnings,
                }
            )
        previous_km = km
        monday += dt.timedelta(days=7)
    return answer(
        {
            "first_day": start.isoformat(),
            "last_day": end.isoformat(),
            "threshold_pct": threshold,
            "weeks": weeks,
            "notes": LOAD_NOTES,
            "sources": LOAD_SOURCES,
        }
    )


LOAD_NOTES = [
    "Session load is session RPE x minutes (Foster 2001); a session without RPE has an unknown load.",
    "The distance warning follows the 10% rule of seed 004: a guideline, not a proven rule.",
    "The acute:chronic ratio is information, not a gate; it stays null until 28 days of history exist.",
]
LOAD_SOURCES = ["foster-2001", "foster-1998", "gabbett-2016", "lolli-2019", "impellizzeri-2020", "seed-004"]


async def progress(request: Request) -> Response:
    """The exercise's sessions, the weekly pain trend and plan adherence, from the rows
    runstrong's ``analytics.service.progress`` reads."""
    try:
        db, athlete = await caller(request, "training:read")
        first, last = _window(request, 26 * 7)
        exercise = request.query_params.get("exercise")
        if exercise and not await db.rows("SELECT 1 FROM exercise WHERE slug = ?", (exercise,)):
            raise Problem(404, f"No exercise '{exercise}'.")
    except (Problem, ValueError) as exc:
        return problem(exc if isinstance(exc, Problem) else Problem(422, "Bad query."))
    zone = await _zone(db, athlete)
    sessions = []
    if exercise:
        by_workout: dict[Any, tuple[Any, list[tuple[float, int | None]]]] = {}
        for workout_id, started, load_kg, reps in await db.rows(
            "SELECT w.id, w.started_at, s.load_kg, s.reps FROM workout w JOIN workout_set s ON s.workout_id = w.id "
            f"WHERE w.athlete_id = ? AND s.exercise_slug = ? AND s.completed = {'1' if db.sqlite else 'true'} "
            "AND w.started_at >= ? AND w.started_at < ? ORDER BY w.started_at, s.position",
            (
                athlete,
                exercise,
                db.ts(dt.datetime.combine(first, dt.time.min, zone)),
                db.ts(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, zone)),
            ),
        ):
            by_workout.setdefault(workout_id, (started, []))[1].append((load_kg, reps))
        for workout_id, (started, items) in by_workout.items():
            scored = [(m.epley(kg, reps or 0), m.brzycki(kg, reps or 0), kg, reps) for kg, reps in items]
            best = max((x for x in scored if x[0] is not None), key=lambda x: x[0] or 0, default=None)
            sessions.append(
                {
                    "day": db.instant(started).astimezone(zone).date().isoformat(),
                    "workout_id": db.out_id(workout_id),
                    "sets": len(items),
                    "volume_kg": round(sum((reps or 0) * max(kg, 0) for kg, reps in items), 1),
                    "best_set": f"{best[2]:g} kg x {best[3]}" if best else None,
                    "e1rm_epley": round(best[0], 1) if best and best[0] else None,
                    "e1rm_brzycki": round(max((x[1] for x in scored if x[1] is not None), default=0), 1) or None,
                }
            )
    by_site: dict[str, dict[dt.date, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for day, sites in await db.rows(
        "SELECT date, sites FROM checkin WHERE athlete_id = ? AND date >= ? AND date <= ?",
        (athlete, first.isoformat() if db.sqlite else first, last.isoformat() if db.sqlite else last),
    ):
        monday = m.week_start(dt.date.fromisoformat(day) if isinstance(day, str) else day)
        for report in db.out_json(sites):
            by_site[report["site"]][monday].append((report["pain"], report["morning_stiffness"]))
    pain: dict[str, list[dict[str, Any]]] = {}
    for site, site_weeks in sorted(by_site.items()):
        trend: list[dict[str, Any]] = []
        for monday in sorted(site_weeks):
            mean_pain = round(mean(p for p, _ in site_weeks[monday]), 2)
            stiffness = round(mean(st for _, st in site_weeks[monday]), 2)
            rising = bool(trend) and (mean_pain > trend[-1]["mean_pain"] or stiffness > trend[-1]["mean_stiffness"])
            trend.append(
                {
                    "week_start": monday.isoformat(),
                    "mean_pain": mean_pain,
                    "mean_stiffness": stiffness,
                    "rising": rising,
                }
            )
        pain[site] = trend
    today = dt.datetime.now(UTC).date()
    due = [
        x["id"]
        for (draft,) in await db.rows("SELECT draft FROM plan WHERE athlete_id = ? AND status = 'active'", (athlete,))
        for week in db.out_json(draft).get("weeks", [])
        for x in week["sessions"]
        if x["kind"] != "run" and dt.date.fromisoformat(x["day"]) <= today
    ]
    completed = 0
    if due:
        ids = [db.id(uuid.UUID(x)) for x in due]
        linked = await db.rows(
            f"SELECT DISTINCT planned_session_id FROM workout WHERE planned_session_id IN ({db.marks(len(ids))})", ids
        )
        completed = len(linked)
    return answer(
        {
            "exercise": exercise,
            "sessions": sessions,
            "pain": pain,
            "adherence": {
                "planned": len(due),
                "completed": completed,
                "rate": round(completed / len(due), 3) if due else None,
            },
            "notes": ["One-repetition maxima are estimated from sets of 10 reps or fewer with added load."],
        }
    )


# ---------------------------------------------------------------- catalogue


async def list_exercises(request: Request) -> Response:
    """A page of exercises by name, with their muscles, equipment, injuries and neighbours
    by name: the rows runstrong's ``catalogue.service.list_exercises`` reads."""
    db = db_of(request)
    try:
        limit = int(request.query_params.get("limit", "20"))
        offset = int(request.query_params.get("offset", "0"))
    except ValueError:
        return problem(Problem(422, "Bad query."))
    total = (await db.rows("SELECT count(*) FROM exercise"))[0][0]
    rows = await db.rows(
        "SELECT slug, name, synonyms, summary, steps, loading_type, level, laterality, dose, cautions, "
        "achilles_tier, achilles_body_weights, achilles_sources, sources FROM exercise ORDER BY name, slug "
        "LIMIT ? OFFSET ?",
        (limit, offset),
    )
    slugs = [r[0] for r in rows]
    marks = db.marks(len(slugs))
    links: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    queries = (
        (
            "SELECT l.exercise_slug, l.role, mu.slug, mu.name FROM exercise_muscle l JOIN muscle mu ON "
            f"mu.slug = l.muscle_slug WHERE l.exercise_slug IN ({marks}) ORDER BY mu.position",
            slugs,
        ),
        (
            "SELECT l.exercise_slug, 'equipment', q.slug, q.name FROM exercise_equipment l JOIN equipment q ON "
            f"q.slug = l.equipment_slug WHERE l.exercise_slug IN ({marks}) ORDER BY q.name",
            slugs,
        ),
        (
            "SELECT l.exercise_slug, 'injuries', i.slug, i.name FROM injury_exercise l JOIN injury i ON "
            f"i.slug = l.injury_slug WHERE l.exercise_slug IN ({marks}) ORDER BY i.name",
            slugs,
        ),
        (
            "SELECT p.easier_slug, 'progressions', e.slug, e.name FROM progression p JOIN exercise e ON "
            f"e.slug = p.harder_slug WHERE p.easier_slug IN ({marks}) ORDER BY p.easier_slug, p.harder_slug",
            slugs,
        ),
        (
            "SELECT p.harder_slug, 'regressions', e.slug, e.name FROM progression p JOIN exercise e ON "
            f"e.slug = p.easier_slug WHERE p.harder_slug IN ({marks}) ORDER BY p.easier_slug, p.harder_slug",
            slugs,
        ),
    )
    if slugs:
        for sql, args in queries:
            for owner, kind, slug, name in await db.rows(sql, args):
                links[owner, kind].append({"slug": slug, "name": name})
    items = [
        {
            "slug": r[0],
            "name": r[1],
            "synonyms": db.out_json(r[2]),
            "summary": r[3],
            "steps": db.out_json(r[4]),
            "loading_type": r[5],
            "level": r[6],
            "laterality": r[7],
            "primary_muscles": links[r[0], "primary"],
            "secondary_muscles": links[r[0], "secondary"],
            "equipment": links[r[0], "equipment"],
            "dose": db.out_json(r[8]),
            "cautions": db.out_json(r[9]),
            "achilles_load": None
            if r[10] is None
            else {"tier": r[10], "body_weights": r[11], "sources": db.out_json(r[12])},
            "injuries": links[r[0], "injuries"],
            "progressions": links[r[0], "progressions"],
            "regressions": links[r[0], "regressions"],
            "sources": db.out_json(r[13]),
        }
        for r in rows
    ]
    return answer({"items": items, "total": total, "limit": limit, "offset": offset})


# ---------------------------------------------------------------- the app


async def healthz(_request: Request) -> Response:
    return answer({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    url = os.environ["REFERENCE_DATABASE_URL"]
    database: Database = (
        SQLite(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else await PostgreSQL.open(url)
    )
    app.state.db = database
    app.state.secret = os.environ["REFERENCE_SECRET_KEY"]
    try:
        yield
    finally:
        await database.close()


def create_app() -> Starlette:
    athlete = "/v1/athletes/{athlete_id}"
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route(f"{athlete}/workouts", list_workouts, methods=["GET"]),
            Route(f"{athlete}/workouts", create_workout, methods=["POST"]),
            Route(f"{athlete}/workouts/{{workout_id}}", get_workout),
            Route(f"{athlete}/changes", changes),
            Route(f"{athlete}/plans/{{plan_id}}", get_plan),
            Route(f"{athlete}/load", load),
            Route(f"{athlete}/progress", progress),
            Route("/v1/exercises", list_exercises),
            Route("/v1/plans/preview", preview_plan, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
