"""runstrong against a plain reference app, route by route, on the same database.

Run it from the repository root with ``.venv/bin/python bench/versus.py [--rounds 3]
[--duration 5] [--only sqlite|postgresql] [--routes page,write,...] [--compare DIR]``.

For each database: migrate and seed one database; start ``runstrong serve`` as production
runs it (``RUNSTRONG_ENVIRONMENT=production``: the JSON access line for every request,
metrics, the edge; rate limits on with a budget nothing reaches; the catalogue's response
cache off, so the catalogue row measures a real render) and bench/reference_app.py (plain
Starlette, raw SQL, PyJWT) on uvicorn with uvloop and httptools, one worker each, both
pinned to core 0 (``taskset``). Before they start, through the API of a runstrong server
of its own (stopped again, so that both measured servers start alike): register and log
in a reader and a writer, set the reader's profile and create a plan, log runs, check-ins
and workouts (some against the plan's sessions); bulk-load 200 workouts of 5 sets, and
other runners' 20,000. Each route is then fetched once from both apps and the answers
compared (status, record counts and ids), and measured with wrk (``-t1 -c8``, pinned to
core 1) interleaved: every round, every route, both apps one after the other (the order
alternating between rounds). Ratios are taken within a round and reported as their median.
``--connections 1`` measures what a single client waits instead (the targets are stated
for eight).

``--compare DIR`` also serves the checkout in DIR (an earlier commit, say from ``git
worktree add``) as ``before``, on the same database, pinned and with the same settings
(run from DIR, so a ``.env`` file there, not here, is the one it reads): a served A/B of
two versions of runstrong in one run. Every round measures runstrong between the two
others (before, runstrong, reference; reversed on even rounds, so give an even number of
rounds), and the table adds each round's ratio of runstrong's rate to before's. Runs of
one version made one after the other have moved a lot on these machines (the reference's
write rate 421-665 a second within the hour); two versions measured side by side in each
round are a fairer test, though one round of the same code against itself still moved by
up to 28 %, and the medians of six such rounds by up to 8 %: judge a change by the median
of many rounds, beside an A/A run (DIR at this tree's commit) that says the noise. Both
servers run their webhook dispatcher on the one database, each fanning out the other's
events too, so a write's figures with ``--compare`` are not those of a run without it.
The two checkouts must share the database's schema: ``before`` must answer ``/readyz``
(which compares the database's migrations with its own), and its answers are compared
with runstrong's before the rounds; either failing stops the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import (  # noqa: E402
    BENCH_DIR,
    BIN,
    CLOCK_TICKS,
    HOST,
    OTHER_CPU_WARN_PCT,
    BenchError,
    Server,
    WrkResult,
    fetch,
    finish,
    free_port,
    machine,
    machine_busy_pct,
    prepare_database,
    process_ticks,
)
from edge import SECRET, cpu_us, measure, pinned, production_env, serve_argv  # noqa: E402
from training import EXERCISES, account, bulk_load, database, workout_body  # noqa: E402

READ_TARGET = 0.5  # runstrong >= half the reference's req/s on every route
WRITE_P99_TARGET_MS = 100.0
PREVIEW_TARGET = 1000.0  # previews a second on one worker
CONNECTIONS = 8
LOADED_WORKOUTS = 200  # bulk-loaded, 5 sets each, as in the measurement
# Other runners' history, bulk-loaded the same way: the tables a write goes into hold what a
# service with users holds, not the reader's 200 workouts alone (see build_world).
OTHER_ATHLETES = 20
OTHER_WORKOUTS = 1_000
WORLD_OTHER_WORKOUTS = OTHER_ATHLETES * OTHER_WORKOUTS  # what the reports built on worlds() record
PREVIEW = {
    "kind": "achilles",
    "profile": {
        "achilles_pain": 3,
        "equipment": ["seated-calf-raise-machine", "leg-press-machine", "standing-calf-raise-machine"],
    },
    "start_date": "2026-11-23",
}
PROFILE = {"achilles_pain": 3, "achilles_pain_site": "mid-portion", "equipment": ["step", "chair"]}


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: str
    path: str
    count: Callable[[Any], Any]  # what must agree between the two answers


@dataclass(slots=True)
class World:
    """What the set-up made: tokens, ids and the files wrk reads."""

    reader_token: str
    writer_token: str
    workout_id: str
    plan_id: str
    workout_file: Path
    preview_file: Path
    routes: dict[str, Route] = field(default_factory=dict)


def _ids(items: Sequence[dict[str, Any]], key: str = "id") -> list[Any]:
    return [item[key] for item in items]


def routes_of(world: World) -> dict[str, Route]:
    me = "/v1/athletes/me"
    listed = [
        Route("page", "GET", f"{me}/workouts?limit=20", lambda b: _ids(b["items"])),
        Route("record", "GET", f"{me}/workouts/{world.workout_id}", lambda b: (b["id"], len(b["sets"]))),
        Route(
            "changes",
            "GET",
            f"{me}/changes?since=0&limit=100",
            lambda b: [(c["entity"], c["id"], c["record"] is not None) for c in b["changes"]],
        ),
        Route(
            "plan",
            "GET",
            f"{me}/plans/{world.plan_id}",
            lambda b: [(len(w["sessions"]), sum(len(x["workouts"]) for x in w["sessions"])) for w in b["weeks"]],
        ),
        Route(
            "load",
            "GET",
            f"{me}/load",
            lambda b: [(w["week_start"], w["runs"], w["workouts"], w["running_km"], w["load"]) for w in b["weeks"]],
        ),
        Route(
            "progress",
            "GET",
            f"{me}/progress?exercise=squat",
            lambda b: (_ids(b["sessions"], "workout_id"), sorted(b["pain"]), b["adherence"]),
        ),
        Route("catalogue", "GET", "/v1/exercises?limit=20", lambda b: (_ids(b["items"], "slug"), b["total"])),
        Route("preview", "POST", "/v1/plans/preview", lambda b: [len(w["sessions"]) for w in b["weeks"]]),
        Route("write", "POST", f"{me}/workouts", lambda b: [s["exercise"]["slug"] for s in b["sets"]]),
    ]
    return {r.name: r for r in listed}


ROUTE_NAMES = ("page", "record", "changes", "plan", "load", "progress", "catalogue", "preview", "write")


# ---------------------------------------------------------------- set-up


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise BenchError(
            f"{response.request.method} {response.request.url} answered {response.status_code}: {response.text[:300]}"
        )
    return response.json()


def build_world(base: str, database_url: str, tmp: Path, others: int = OTHER_ATHLETES) -> World:
    """The reader's history through runstrong's API (so the change feed and plan links are
    real), then the bulk of the workouts straight into the tables."""
    reader_id, reader = account(base)
    _, writer = account(base)
    headers = {"Authorization": f"Bearer {reader}"}
    today = dt.datetime.now(dt.UTC).date()
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        _ok(client.patch("/v1/athletes/me/profile", json=PROFILE))
        start = today - dt.timedelta(days=today.weekday() + 42)  # a Monday six weeks ago
        plan = _ok(client.post("/v1/athletes/me/plans", json={"kind": "achilles", "start_date": start.isoformat()}))
        for n in range(30):
            day = today - dt.timedelta(days=2 * n + 1)
            _ok(
                client.post(
                    "/v1/athletes/me/runs",
                    json={
                        "started_at": f"{day.isoformat()}T07:00:00Z",
                        "distance_km": 8.0 + n % 5,
                        "duration_seconds": 2700 + 60 * (n % 7),
                        "session_rpe": 5.0 + n % 3,
                    },
                )
            )
            _ok(
                client.post(
                    "/v1/athletes/me/checkins",
                    json={
                        "date": day.isoformat(),
                        "sites": [{"site": "left-achilles", "pain": n % 4, "morning_stiffness": n % 3}],
                    },
                )
            )
        for n in range(20):
            # Re-read the plan each time: a workout completing a week adapts the next one, and
            # the sessions an adaptation replaces get new ids.
            weeks = _ok(client.get(f"/v1/athletes/me/plans/{plan['id']}"))["weeks"]
            due = [
                x
                for w in weeks
                for x in w["sessions"]
                if x["kind"] != "run" and x["day"] <= today.isoformat() and not x["workouts"]
            ]
            if not due:
                break
            item = due[0]
            body = workout_body(5) | {"started_at": f"{item['day']}T17:30:00Z", "planned_session_id": item["id"]}
            body["sets"] = [s | {"exercise": EXERCISES[(n + i) % 4]} for i, s in enumerate(body["sets"])]
            _ok(client.post("/v1/athletes/me/workouts", json=body))
    # 200 workouts of 5 sets, one every 12 hours up to yesterday: the page, load and progress read them.
    first = dt.datetime.combine(today, dt.time(6), dt.UTC) - dt.timedelta(hours=12 * (LOADED_WORKOUTS + 2))
    bulk_load(database_url, reader_id, LOADED_WORKOUTS, start=first, every=dt.timedelta(hours=12))
    # Other runners' history. Without it the workout table holds about 220 rows when the
    # first write run starts; PostgreSQL then plans the sets' foreign-key check (``SELECT 1
    # FROM workout WHERE id = $1``) as a sequential scan, and each backend keeps that plan
    # until the table is analyzed again. The app measured first (runstrong, in the first
    # round) scanned the whole, growing table for each set it wrote: 8.9 scans a write, of
    # 1,000 rows each on average. The second app, measured after the table had grown and
    # been analyzed, used the key's index. With 20,000 workouts both use the index.
    for _ in range(others):
        other_id, _token = account(base)
        bulk_load(database_url, other_id, OTHER_WORKOUTS, every=dt.timedelta(hours=12))
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        newest = _ok(client.get("/v1/athletes/me/workouts?limit=1"))["items"][0]["id"]
    workout_file = tmp / "workout.json"
    workout_file.write_text(json.dumps(workout_body(10)), encoding="utf-8")
    preview_file = tmp / "preview.json"
    preview_file.write_text(json.dumps(PREVIEW), encoding="utf-8")
    world = World(reader, writer, newest, plan["id"], workout_file, preview_file)
    world.routes = routes_of(world)
    return world


def worlds(backends: Sequence[str], others: int = OTHER_ATHLETES) -> Iterator[tuple[str, str, World]]:
    """For each backend in turn: a fresh database, migrated and seeded, and this world built
    in it through a runstrong server that is stopped again; yields (backend, database URL,
    world) while the database exists. For the in-process measurements (inprocess.py, ab.py)."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for backend in backends:
            with database(backend, tmp) as url:
                prepare_database(runstrong_env(url, 0))
                yield backend, url, built_world(url, tmp, others)


def built_world(url: str, tmp: Path, others: int) -> World:
    """The world built through a runstrong server of its own, stopped again before anything
    is measured, so that neither measured server has done anything the other has not (the
    reference app never built anything). On PostgreSQL, two servers of the same code, one
    of which had built the world, measured side by side (``--compare``) wrote 0.82, 0.92
    and 0.93 times as fast as the other (medians of four, four and six rounds); built
    apart, 0.97-1.04. On SQLite no such difference showed, and A/A medians there moved by
    8 %: suggestive, not proven (bench/README.md, "Twenty-ninth round")."""
    port = free_port()
    with pinned("world", serve_argv(port, None), runstrong_env(url, port), tmp):
        return build_world(f"http://{HOST}:{port}", url, tmp, others)


def request_env(world: World, route: Route) -> tuple[Path | None, dict[str, str]]:
    """The wrk script and its environment for a route."""
    if route.name == "write":
        script, extra = (
            BENCH_DIR / "post_workout.lua",
            {"TOKEN": world.writer_token, "BODY_FILE": str(world.workout_file)},
        )
        extra["SALT"] = uuid.uuid4().hex[:8]
    elif route.name == "preview":
        script, extra = BENCH_DIR / "post_json.lua", {"BODY_FILE": str(world.preview_file)}
    else:
        script, extra = BENCH_DIR / "get_with_token.lua", {"TOKEN": world.reader_token}
    return script, {**os.environ, **extra}


def check_same_reads(servers: Mapping[str, Server], world: World, names: Sequence[str]) -> dict[str, Any]:
    """Each route once from each server: every one 200 (201 for the write), with runstrong's records."""
    seen: dict[str, Any] = {}
    for name in names:
        route = world.routes[name]
        answers: dict[str, Any] = {}
        sizes: dict[str, int] = {}
        for server_name, server in servers.items():
            token = world.writer_token if name == "write" else world.reader_token
            headers = {"Authorization": f"Bearer {token}"}
            url = f"http://{HOST}:{server.port}{route.path}"
            if route.method == "POST":
                body = (world.workout_file if name == "write" else world.preview_file).read_bytes()
                headers |= {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
                response = httpx.post(url, content=body, headers=headers, timeout=60)
            else:
                response = httpx.get(url, headers=headers, timeout=60)
            expected = 201 if name == "write" else 200
            if response.status_code != expected:
                raise BenchError(
                    f"{server_name} {route.method} {route.path}: {response.status_code} {response.text[:300]}\n"
                    f"{server.log_tail()}"
                )
            answers[server_name] = route.count(response.json())
            sizes[server_name] = len(response.content)
        runstrong = answers["runstrong"]
        for other in ("reference", BEFORE):
            if other in answers and answers[other] != runstrong:  # the write compares its sets (the ids are new)
                raise BenchError(
                    f"{name}: the apps read different records:\n runstrong {runstrong}\n {other} {answers[other]}"
                )
        seen[name] = {"bytes": sizes, "records": len(runstrong) if isinstance(runstrong, list) else None}
        print(f"  {name:<10} same records; bytes {', '.join(f'{k} {v:,}' for k, v in sizes.items())}")
    return seen


# ---------------------------------------------------------------- servers


def runstrong_env(database_url: str, port: int) -> dict[str, str]:
    return production_env(Path("unused.db"), port) | {
        "DATABASE_URL": database_url,
        "RUNSTRONG_RATE_LIMIT_WRITES": "1000000000",
        "RUNSTRONG_RATE_LIMIT_PLANS": "1000000000",
        "RUNSTRONG_LOGIN_LIMIT_PER_ADDRESS": "1000000",
        "RUNSTRONG_CATALOGUE_CACHE_ENTRIES": "0",
    }


def reference_argv(port: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        *("--app-dir", str(BENCH_DIR), "reference_app:create_app", "--factory"),
        *("--host", HOST, "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--log-level", "warning"),
    ]


BEFORE = "before"  # the server of --compare's checkout


@contextmanager
def measured_servers(database_url: str, tmp: Path, compare: Path | None = None) -> Iterator[dict[str, Server]]:
    """runstrong and the reference app (and with ``compare``, runstrong of that checkout)."""
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        port = free_port()
        servers["runstrong"] = stack.enter_context(
            pinned("runstrong", serve_argv(port, None), runstrong_env(database_url, port), tmp)
        )
        if compare is not None:
            port = free_port()
            env = runstrong_env(database_url, port) | {"PYTHONPATH": str(compare)}
            servers[BEFORE] = before = stack.enter_context(
                pinned(BEFORE, serve_argv(port, None, compare), env, tmp, cwd=compare)
            )
            ready = fetch(before.port, "/readyz")
            if ready.status != 200:  # another schema: its migrations are not the database's
                raise BenchError(f"{compare} is not ready on this database: {ready.body.decode(errors='replace')}")
        port = free_port()
        env = {
            **os.environ,
            "REFERENCE_DATABASE_URL": database_url,
            "REFERENCE_SECRET_KEY": SECRET,
            "BENCH_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
        servers["reference"] = stack.enter_context(pinned("reference", reference_argv(port), env, tmp))
        yield servers


# ---------------------------------------------------------------- runs


def database_ticks(name: str | None) -> dict[int, int] | None:
    """CPU ticks used so far by each PostgreSQL backend serving database ``name`` (their
    process title names it): the database's share of "other CPU", which other work on the
    same PostgreSQL server does not add to."""
    if name is None:
        return None
    found: dict[int, int] = {}
    needle = f" {name} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                found[int(entry.name)] = process_ticks(int(entry.name))
        except OSError:
            continue  # the process has ended
    return found


def ticks_between(before: Mapping[int, int], after: Mapping[int, int]) -> int:
    """Ticks used between two samples by the backends alive at the second (a backend that
    ended meanwhile is not counted: a slight underestimate, never a negative one)."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items())


def vacuum(url: str) -> None:
    """``VACUUM (ANALYZE)`` of the whole database, before each measured run on PostgreSQL.

    Production runs PostgreSQL with autovacuum on; the benchmark machines run it with
    autovacuum off (their CI settings). Without it the row versions every write leaves
    dead (a delivered event's ``dispatched_at``, a stored idempotent answer, the change
    counter) pile up round after round, and each run measures a more bloated database
    than the one before: runstrong's 10-set writes fell from 222 to 147 a second over
    three rounds while the reference's, which only inserts, held. Vacuumed before every
    run, both apps meet the database as autovacuum keeps it."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def conninfo(url: str) -> str:
    """libpq's connection string for a SQLAlchemy URL."""
    parsed = make_url(url)
    given = parsed.translate_connect_args(username="user", database="dbname")
    options = {name: value if isinstance(value, str) else value[-1] for name, value in parsed.query.items()}
    return make_conninfo(**given, **options)


@dataclass(frozen=True, slots=True)
class Run:
    backend: str
    round: int
    route: str
    server: str
    result: WrkResult
    postgres_cpu_pct: float | None = None  # our database's backends, in % of one core


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> tuple[list[Run], dict[str, Any]]:
    runs: list[Run] = []
    with database(backend, tmp) as url:
        pg_name = make_url(url).database if backend == "postgresql" else None
        prepare_database(runstrong_env(url, 0))
        print(f"[{backend}] setting up the athletes")
        world = built_world(url, tmp, args.other_athletes)
        compare = Path(args.compare).resolve() if args.compare else None
        with measured_servers(url, tmp, compare) as servers:
            print(f"[{backend}] the same reads from both apps?")
            checked = check_same_reads(servers, world, args.routes)
            for number in range(1, args.rounds + 1):
                order = [*([BEFORE] if compare else []), "runstrong", "reference"]
                order = order if number % 2 else order[::-1]
                for name in args.routes:
                    route = world.routes[name]
                    script, env = request_env(world, route)
                    for server_name in order:
                        if backend == "postgresql":
                            vacuum(url)
                        ticks, started = database_ticks(pg_name), time.monotonic()
                        result = measure(
                            servers[server_name],
                            duration_s=args.duration,
                            warmup_s=args.warmup,
                            connections=args.connections,
                            path=route.path,
                            script=script,
                            env=env,
                        )
                        pg: float | None = None
                        if ticks is not None:  # over warm-up and run: an estimate of the run's share
                            used = ticks_between(ticks, database_ticks(pg_name) or {}) / CLOCK_TICKS
                            pg = round(100 * used / (time.monotonic() - started), 1)
                            if result.other_cpu_pct is not None:
                                result = replace(result, other_cpu_pct=round(max(result.other_cpu_pct - pg, 0.0), 1))
                        bad = "" if result.clean else f"  ERRORS non-2xx {result.non_2xx_3xx} {result.socket_errors}"
                        print(
                            f"[{backend}] round {number} {name:<10} {server_name:<10} {result.requests_per_s:>8.1f} "
                            f"req/s  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:8.2f} ms  "
                            f"server {result.server_cpu_pct}%  other {result.other_cpu_pct}%"
                            f"{'' if pg is None else f'  PostgreSQL {pg}%'}{bad}"
                        )
                        runs.append(Run(backend, number, name, server_name, result, pg))
    return runs, checked


# ---------------------------------------------------------------- report


def summarise(runs: Sequence[Run], connections: int = CONNECTIONS) -> tuple[str, list[dict[str, Any]]]:
    """The table (with ``before``'s columns when the run had it) and its rows for the report;
    the targets judged only for the connections they are stated for."""
    compared = any(r.server == BEFORE for r in runs)
    judged = connections == CONNECTIONS
    lines = [
        *(
            []
            if judged
            else [f"wrk's connections: {connections} (the targets, stated for {CONNECTIONS}, are not judged)", ""]
        ),
        "| database | route | runstrong req/s | p50 ms | p99 ms | reference req/s | p50 ms | p99 ms "
        "| ratio per round | median ratio | CPU ratio | target | other CPU % | PostgreSQL CPU % |"
        + (
            " before req/s | before p99 ms | runstrong / before per round | median runstrong / before "
            "| CPU before / runstrong |"
            if compared
            else ""
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|"
        + ("---:|---:|---|---:|---:|" if compared else ""),
    ]
    rows: list[dict[str, Any]] = []
    for backend in dict.fromkeys(r.backend for r in runs):
        for name in dict.fromkeys(r.route for r in runs if r.backend == backend):
            mine = [r for r in runs if r.backend == backend and r.route == name]
            ours = {r.round: r.result for r in mine if r.server == "runstrong"}
            theirs = {r.round: r.result for r in mine if r.server == "reference"}
            ratios = [ours[n].requests_per_s / theirs[n].requests_per_s for n in sorted(ours) if n in theirs]
            ratio = statistics.median(ratios)

            def med(results: Mapping[int, WrkResult], key: str) -> float:
                return float(statistics.median(getattr(x, key) for x in results.values()))

            other = max((r.result.other_cpu_pct or 0.0) for r in mine)
            cpu_ours = [c for x in ours.values() if (c := cpu_us(x)) is not None]
            cpu_theirs = [c for x in theirs.values() if (c := cpu_us(x)) is not None]
            cpu_ratio = statistics.median(cpu_theirs) / statistics.median(cpu_ours) if cpu_ours and cpu_theirs else None
            pg_cpu = [r.postgres_cpu_pct for r in mine if r.postgres_cpu_pct is not None]
            pg_text = f"{min(pg_cpu):.0f}-{max(pg_cpu):.0f}" if pg_cpu else ""
            before = {r.round: r.result for r in mine if r.server == BEFORE}
            to_before = [
                ours[n].requests_per_s / before[n].requests_per_s
                for n in sorted(ours)
                if n in before and before[n].requests_per_s > 0
            ]
            cpu_before = [c for x in before.values() if (c := cpu_us(x)) is not None]
            cpu_to_before = (
                statistics.median(cpu_before) / statistics.median(cpu_ours) if cpu_ours and cpu_before else None
            )
            rps, p99 = med(ours, "requests_per_s"), med(ours, "p99_ms")
            verdicts = [f">= {READ_TARGET} {'yes' if ratio >= READ_TARGET else '**no**'}"]
            if name == "write":
                verdicts.append(
                    f"p99 < {WRITE_P99_TARGET_MS:.0f} ms {'yes' if p99 < WRITE_P99_TARGET_MS else '**no**'}"
                )
            if name == "preview":
                verdicts.append(f">= {PREVIEW_TARGET:.0f}/s {'yes' if rps >= PREVIEW_TARGET else '**no**'}")
            errors = sum(
                x.non_2xx_3xx + sum(x.socket_errors.values())
                for x in (*ours.values(), *theirs.values(), *before.values())
            )
            if not judged:
                verdicts = ["not judged"]
            flag = " (disturbed)" if other > OTHER_CPU_WARN_PCT else ""
            lines.append(
                f"| {backend} | {name}{' (errors!)' if errors else ''} | {rps:,.1f} | {med(ours, 'p50_ms'):.1f} "
                f"| {p99:.1f} | {med(theirs, 'requests_per_s'):,.1f} | {med(theirs, 'p50_ms'):.1f} "
                f"| {med(theirs, 'p99_ms'):.1f} | {', '.join(f'{x:.2f}' for x in ratios)} | **{ratio:.2f}** "
                f"| {'' if cpu_ratio is None else f'{cpu_ratio:.2f}'} "
                f"| {'; '.join(verdicts)} | {other:.0f}{flag} | {pg_text} |"
                + (
                    f" {med(before, 'requests_per_s'):,.1f} | {med(before, 'p99_ms'):.1f} "
                    f"| {', '.join(f'{x:.2f}' for x in to_before)} "
                    f"| **{statistics.median(to_before):.2f}** "
                    f"| {'' if cpu_to_before is None else f'{cpu_to_before:.2f}'} |"
                    if to_before
                    else (" | | | | |" if compared else "")
                )
            )
            rows.append(
                {
                    "backend": backend,
                    "route": name,
                    "ratios": ratios,
                    "median_ratio": ratio,
                    "runstrong_median_rps": rps,
                    "runstrong_median_p99_ms": p99,
                    "reference_median_rps": med(theirs, "requests_per_s"),
                    "reference_median_p99_ms": med(theirs, "p99_ms"),
                    "runstrong_cpu_us_per_request": statistics.median(cpu_ours) if cpu_ours else None,
                    "reference_cpu_us_per_request": statistics.median(cpu_theirs) if cpu_theirs else None,
                    "cpu_ratio": cpu_ratio,
                    "max_other_cpu_pct": other,
                    "postgres_cpu_pct": pg_cpu,
                    "errors": errors,
                }
                | (
                    {
                        "before_median_rps": med(before, "requests_per_s"),
                        "before_median_p50_ms": med(before, "p50_ms"),
                        "before_median_p99_ms": med(before, "p99_ms"),
                        "ratios_to_before": to_before,
                        "median_ratio_to_before": statistics.median(to_before),
                        "before_cpu_us_per_request": statistics.median(cpu_before) if cpu_before else None,
                        "cpu_ratio_before_to_runstrong": cpu_to_before,
                    }
                    if to_before
                    else {}
                )
            )
    return "\n".join(lines), rows


def checkout_commit(checkout: Path) -> str:
    """The commit checked out in ``checkout``, with ``+changes`` if its tree differs from it."""
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return "unknown (not a git checkout)"
    status = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain"], capture_output=True, text=True)
    return head.stdout.strip() + ("+changes" if status.stdout.strip() else "")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measured run (5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each run (1)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument(
        "--connections",
        type=int,
        default=CONNECTIONS,
        help=f"wrk's connections ({CONNECTIONS}, as the targets are stated; 1: a single client's latency)",
    )
    parser.add_argument(
        "--other-athletes",
        type=int,
        default=OTHER_ATHLETES,
        help=f"other runners with {OTHER_WORKOUTS:,} workouts each ({OTHER_ATHLETES}; 0: the reader's alone)",
    )
    parser.add_argument(
        "--routes", default=",".join(ROUTE_NAMES), help=f"comma-separated subset of {','.join(ROUTE_NAMES)}"
    )
    parser.add_argument(
        "--compare",
        metavar="DIR",
        help="also serve the checkout in DIR (an earlier commit) as 'before', measured beside runstrong every round",
    )
    parser.add_argument("--table", metavar="JSON", help="print the table of a recorded run (results/versus-*.json)")
    args = parser.parse_args(argv)
    args.routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    if unknown := sorted(set(args.routes) - set(ROUTE_NAMES)):
        parser.error(f"unknown routes: {', '.join(unknown)}")
    if args.rounds < 1 or args.duration < 1 or args.warmup < 1 or args.connections < 1:
        parser.error("--rounds, --duration, --warmup and --connections must be at least 1")
    if args.compare and not (Path(args.compare) / "app" / "main.py").is_file():
        parser.error(f"--compare: {args.compare} is not a runstrong checkout (no app/main.py)")
    if args.compare and args.rounds % 2:
        parser.error("--compare: give an even number of --rounds, so that each order is measured as often")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.table:
        recorded = json.loads(Path(args.table).read_text(encoding="utf-8"))
        names = {f.name for f in fields(WrkResult)}
        print(
            summarise(
                [
                    Run(
                        r["backend"],
                        r["round"],
                        r["route"],
                        r["server"],
                        WrkResult(**{k: v for k, v in r.items() if k in names}),
                        r.get("postgres_cpu_pct"),
                    )
                    for r in recorded["runs"]
                ],
                recorded["settings"].get("connections", CONNECTIONS),
            )[0]
        )
        return 0
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("wrk and taskset are needed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    info = machine()
    info["busy_before_start_pct"] = machine_busy_pct()
    print(f"load average {info['load_average_at_start']}, other processes busy {info['busy_before_start_pct']}%")
    runs: list[Run] = []
    checked: dict[str, Any] = {}
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    with tempfile.TemporaryDirectory(prefix="runstrong-versus-") as tmp:
        try:
            for backend in backends:
                found, checked[backend] = run_backend(backend, args, Path(tmp))
                runs += found
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    table, rows = summarise(runs, args.connections)
    report = {
        "benchmark": "versus",
        "settings": vars(args)
        | ({"compare_commit": checkout_commit(Path(args.compare))} if args.compare else {})
        | {
            "connections": args.connections,
            "loaded_workouts": LOADED_WORKOUTS,
            "other_workouts": args.other_athletes * OTHER_WORKOUTS,
        },
        "machine": info,
        "targets": {
            "ratio_min": READ_TARGET,
            "write_p99_ms_max": WRITE_P99_TARGET_MS,
            "preview_per_s_min": PREVIEW_TARGET,
        },
        "checked": checked,
        "summary": rows,
        "runs": [{k: v for k, v in asdict(r).items() if k != "result"} | asdict(r.result) for r in runs],
    }
    return finish("versus", table, report)


if __name__ == "__main__":
    sys.exit(main())
