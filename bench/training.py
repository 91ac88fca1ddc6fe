"""Training-log benchmark: workout writes per second, and the cost of the newest page.

For SQLite and for PostgreSQL, with one uvicorn worker (the catalogue benchmark's
settings):

1. writes: wrk POSTs workouts of 10 sets, each with a fresh Idempotency-Key, from 8
   connections for the chosen duration; workouts/s, sets/s, p50 and p99 latency.
2. reads, 8 connections: the writer's change feed (GET .../changes?limit=20: 20 workouts
   of 10 sets); the newest page (GET .../workouts?limit=20) and one workout for an
   athlete with 200 bulk-loaded workouts of 5 sets; and (unless --quick) the newest page
   for one with 100,000 sets (20,000 workouts): the two page latencies show whether the
   index and keyset pagination keep a page's cost flat.

Run: .venv/bin/python bench/training.py [--duration 10] [--only sqlite|postgresql] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import (  # noqa: E402
    BIN,
    ROOT,
    BenchError,
    WrkResult,
    machine,
    parse_wrk,
    prepare_database,
    serving,
    write_results,
)

from app.training.models import Workout, WorkoutSet  # noqa: E402

PG_ADMIN_URL = os.environ.get("RUNSTRONG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "benchmark-signing-secret-that-is-long-enough"  # noqa: S105 (a throwaway local server)
PASSWORD = "benchmark password"  # noqa: S105
EXERCISES = [
    "eccentric-heel-raise",
    "seated-calf-raise-machine",
    "squat",
    "deadlift",
    "glute-bridge",
    "single-leg-squat",
    "plank",
    "calf-raise-hold",
    "lunge",
    "side-lying-leg-raise",
]
WRITE_CONNECTIONS = 8
READ_CONNECTIONS = 8
# Both athletes' newest page renders 20 workouts of 5 sets, so only the history differs.
SETS_PER_LOADED_WORKOUT = 5
BIG_WORKOUTS = 20_000  # x 5 sets = 100,000 sets
SMALL_WORKOUTS = 200  # x 5 sets = 1,000 sets (the history issue 15 measured)


@dataclass(frozen=True, slots=True)
class Measured:
    backend: str
    what: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx responses and socket errors


def workout_body(sets: int = 10) -> dict[str, Any]:
    return {
        "started_at": "2026-11-20T17:30:00Z",
        "duration_minutes": 40,
        "session_rpe": 6,
        "sets": [
            {"position": i + 1, "exercise": EXERCISES[i % len(EXERCISES)], "reps": 8, "load_kg": 20, "rpe": 7}
            for i in range(sets)
        ],
    }


def wrk(
    url: str, *, connections: int, duration_s: int, env: Mapping[str, str], script: Path | None = None
) -> WrkResult:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s", "--latency", url]
    if script is not None:
        argv[1:1] = ["-s", str(script)]
    done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr}")
    return parse_wrk(done.stdout)


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'training-bench.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"runstrong_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def account(base: str) -> tuple[str, str]:
    """Register and log in; return (athlete id, access token)."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    created = httpx.post(f"{base}/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=30)
    created.raise_for_status()
    token = httpx.post(f"{base}/v1/auth/token", data={"username": email, "password": PASSWORD}, timeout=30)
    token.raise_for_status()
    access = token.json()["access_token"]
    me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {access}"}, timeout=30)
    me.raise_for_status()
    return me.json()["id"], access


def bulk_load(
    database_url: str,
    athlete_id: str,
    workouts: int,
    *,
    sets_each: int = SETS_PER_LOADED_WORKOUT,
    start: datetime | None = None,
    every: timedelta = timedelta(hours=7),
) -> None:
    """Insert ``workouts`` workouts of ``sets_each`` sets straight into the tables, one every
    ``every`` from ``start`` (2020-01-01 by default)."""
    engine = create_engine(database_url)
    start = start or datetime(2020, 1, 1, tzinfo=UTC)
    owner = uuid.UUID(athlete_id)
    batch = 2_000
    with engine.begin() as conn:
        for first in range(0, workouts, batch):
            rows, sets = [], []
            for n in range(first, min(first + batch, workouts)):
                wid = uuid.uuid4()
                when = start + n * every
                rows.append(
                    {
                        "id": wid,
                        "athlete_id": owner,
                        "started_at": when,
                        "duration_seconds": 2400,
                        "session_rpe": 6.0,
                        "version": 1,
                        "created_at": when,
                        "updated_at": when,
                    }
                )
                sets += [
                    {
                        "id": uuid.uuid4(),
                        "workout_id": wid,
                        "position": i + 1,
                        "exercise_slug": EXERCISES[i],
                        "side": "both",
                        "reps": 8,
                        "load_kg": 20.0,
                        "completed": True,
                    }
                    for i in range(sets_each)
                ]
            conn.execute(insert(Workout.__table__), rows)  # type: ignore[attr-defined]
            conn.execute(insert(WorkoutSet.__table__), sets)  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE workout; ANALYZE workout_set"))
    engine.dispose()


def run_backend(backend: str, duration_s: int, tmp: Path, *, quick: bool = False) -> list[Measured]:
    results: list[Measured] = []
    with database(backend, tmp) as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "RUNSTRONG_ENVIRONMENT": "production",
            "RUNSTRONG_SECRET_KEY": SECRET,
            "RUNSTRONG_LOGIN_LIMIT_PER_ADDRESS": "1000",
            # The write limiter still runs on every write (its cost is part of a write), but
            # with room for the whole run: a 429 is not a measured write.
            "RUNSTRONG_RATE_LIMIT_WRITES": "100000000",
            "PYTHONUNBUFFERED": "1",
        }
        prepare_database(env)
        with serving(f"runstrong-{backend}", ["app.main:create_app", "--factory"], env, tmp) as server:
            base = f"http://127.0.0.1:{server.port}"
            _, writer_token = account(base)
            body_file = tmp / "workout.json"
            body_file.write_text(json.dumps(workout_body()), encoding="utf-8")
            wrk_env = {**os.environ, "TOKEN": writer_token, "BODY_FILE": str(body_file)}
            url_post = f"{base}/v1/athletes/me/workouts"
            print(f"[{backend}] writes: {WRITE_CONNECTIONS} connections, {duration_s} s")
            wrk(
                url_post,
                connections=WRITE_CONNECTIONS,
                duration_s=2,
                env=wrk_env,
                script=ROOT / "bench" / "post_workout.lua",
            )
            w = wrk(
                url_post,
                connections=WRITE_CONNECTIONS,
                duration_s=duration_s,
                env=wrk_env,
                script=ROOT / "bench" / "post_workout.lua",
            )
            results.append(
                Measured(
                    backend,
                    "POST workout (10 sets)",
                    w.requests_per_s,
                    w.p50_ms,
                    w.p99_ms,
                    w.non_2xx_3xx + sum(w.socket_errors.values()),
                )
            )

            read_script = ROOT / "bench" / "get_with_token.lua"

            def load(what: str, url_: str, token: str) -> None:
                check = httpx.get(url_, headers={"Authorization": f"Bearer {token}"}, timeout=30)
                if check.status_code != 200:
                    raise BenchError(f"unexpected answer to {what}: {check.status_code} {check.text[:200]}")
                read_env = {**os.environ, "TOKEN": token}
                wrk(url_, connections=READ_CONNECTIONS, duration_s=2, env=read_env, script=read_script)
                r = wrk(url_, connections=READ_CONNECTIONS, duration_s=duration_s, env=read_env, script=read_script)
                results.append(
                    Measured(
                        backend,
                        what,
                        r.requests_per_s,
                        r.p50_ms,
                        r.p99_ms,
                        r.non_2xx_3xx + sum(r.socket_errors.values()),
                    )
                )

            # The writer's change feed: 20 workouts of 10 sets each, the records as they are now.
            load("GET changes, 20 workouts", f"{base}/v1/athletes/me/changes?limit=20", writer_token)
            histories = [("200 workouts", SMALL_WORKOUTS)] + ([] if quick else [("100,000 sets", BIG_WORKOUTS)])
            for label, count in histories:
                athlete_id, token = account(base)
                print(f"[{backend}] loading {count} workouts ({label})")
                bulk_load(url, athlete_id, count)
                page_url = f"{base}/v1/athletes/me/workouts?limit=20"
                check = httpx.get(page_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
                if check.status_code != 200 or len(check.json()["items"]) != min(20, count):
                    raise BenchError(f"unexpected newest page: {check.status_code} {check.text[:200]}")
                load(f"GET newest 20 ({label})", page_url, token)
                if count == SMALL_WORKOUTS:
                    newest = check.json()["items"][0]["id"]
                    load("GET one workout (5 sets)", f"{base}/v1/athletes/me/workouts/{newest}", token)
    return results


def table(rows: Sequence[Measured]) -> str:
    lines = ["| backend | what | req/s | p50 ms | p99 ms | failed |", "|---|---|---:|---:|---:|---:|"]
    lines += [
        f"| {r.backend} | {r.what} | {r.requests_per_s:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.failed} |"
        for r in rows
    ]
    for backend in sorted({r.backend for r in rows}):
        small = next((r for r in rows if r.backend == backend and "(200 workouts)" in r.what), None)
        big = next((r for r in rows if r.backend == backend and "100,000" in r.what), None)
        if small and big:
            lines.append(
                f"\n{backend}: newest page with 100,000 sets vs 1,000: p50 x{big.p50_ms / small.p50_ms:.2f}, "
                f"throughput x{big.requests_per_s / small.requests_per_s:.2f}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one backend only")
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-set history (its bulk load is slow)")
    args = parser.parse_args(argv)
    if not (BIN / "uvicorn").exists():
        raise BenchError("run `make test` or `make run` first to create .venv")
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    rows: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="runstrong-training-bench-") as tmp:
        for backend in backends:
            rows += run_backend(backend, args.duration, Path(tmp), quick=args.quick)
    print(table(rows))
    report = {"machine": machine(), "duration_s": args.duration, "rows": [asdict(r) for r in rows]}
    target = write_results("training", report)
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
