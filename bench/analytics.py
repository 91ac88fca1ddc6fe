"""Analytics benchmark: a year of daily logs summarised on SQLite (target under 50 ms).

Loads 365 runs, 150 workouts with 3,000 sets (20 each) and 365 check-ins for one athlete
straight into a fresh SQLite database, then times the year's load report and the
progress report for one exercise, in-process (the service functions the API calls).

Run: .venv/bin/python bench/analytics.py [--runs 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import ROOT, machine, write_results  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import app.models  # noqa: E402, F401  (every table)
from app.analytics import service  # noqa: E402
from app.catalogue.seed import seed  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.core.db import build_engine  # noqa: E402
from app.core.health import alembic_config  # noqa: E402

TABLES = SQLModel.metadata.tables

YEAR_START = dt.date(2025, 11, 24)  # a Monday
EXERCISES = ["squat", "deadlift", "eccentric-heel-raise", "glute-bridge", "lunge"]


def load_year(engine_url: str) -> uuid.UUID:
    from alembic import command

    command.upgrade(alembic_config(engine_url), "head")
    engine = build_engine(Settings(database_url=engine_url))
    seed(engine)
    athlete = uuid.uuid4()
    start = dt.datetime.combine(YEAR_START, dt.time(7), dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(TABLES["user"]),
            [
                {
                    "id": athlete,
                    "email": "year@example.com",
                    "password_hash": "x",
                    "display_name": "Year",
                    "units": "kg",
                    "timezone": "UTC",
                    "created_at": start,
                    "updated_at": start,
                }
            ],
        )
        conn.execute(
            insert(TABLES["athlete_profile"]),
            [
                {
                    "user_id": athlete,
                    "equipment": [],
                    "injury_history": [],
                    "updated_at": start,
                }
            ],
        )
        conn.execute(
            insert(TABLES["run"]),
            [
                {
                    "id": uuid.uuid4(),
                    "athlete_id": athlete,
                    "started_at": start + dt.timedelta(days=d),
                    "distance_km": 5 + d % 7,
                    "duration_seconds": (5 + d % 7) * 330,
                    "session_rpe": 3 + d % 5,
                    "type": "easy",
                    "source": "manual",
                    "version": 1,
                    "created_at": start,
                    "updated_at": start,
                }
                for d in range(365)
            ],
        )
        workouts, sets = [], []
        for n in range(150):
            wid = uuid.uuid4()
            when = start + dt.timedelta(days=n * 365 // 150, hours=10)
            workouts.append(
                {
                    "id": wid,
                    "athlete_id": athlete,
                    "started_at": when,
                    "duration_seconds": 40 * 60,
                    "session_rpe": 6,
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
                    "exercise_slug": EXERCISES[i % 5],
                    "side": "both",
                    "reps": 5 + i % 6,
                    "load_kg": 20.0 + n / 5,
                    "completed": True,
                }
                for i in range(20)
            ]
        conn.execute(insert(TABLES["workout"]), workouts)
        conn.execute(insert(TABLES["workout_set"]), sets)
        conn.execute(
            insert(TABLES["checkin"]),
            [
                {
                    "id": uuid.uuid4(),
                    "athlete_id": athlete,
                    "date": YEAR_START + dt.timedelta(days=d),
                    "sites": [{"site": "left-achilles", "pain": d % 4, "morning_stiffness": d % 3}],
                    "version": 1,
                    "created_at": start,
                    "updated_at": start,
                }
                for d in range(365)
            ],
        )
    engine.dispose()
    return athlete


def timed(label: str, runs: int, call: Callable[[], object]) -> dict[str, object]:
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"what": label, "median_ms": round(statistics.median(samples), 2), "max_ms": round(samples[-1], 2)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per report")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="runstrong-analytics-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'year.db'}"
        athlete = load_year(url)
        engine = build_engine(Settings(database_url=url))
        last = YEAR_START + dt.timedelta(days=364)
        with Session(engine) as session:
            rows = [
                timed("load report, 52 weeks", args.runs, lambda: service.load(session, athlete, YEAR_START, last, 10)),
                timed(
                    "progress report (squat), 52 weeks",
                    args.runs,
                    lambda: service.progress(session, athlete, "squat", YEAR_START, last),
                ),
            ]
        engine.dispose()
    print("| report (365 runs, 150 workouts, 3,000 sets, 365 check-ins) | median ms | max ms | under 50 ms |")
    print("|---|---:|---:|:---:|")
    for r in rows:
        print(
            f"| {r['what']} | {r['median_ms']} | {r['max_ms']} | {'yes' if float(str(r['median_ms'])) < 50 else 'no'} |"
        )
    target = write_results("analytics", {"machine": machine(), "rows": rows})
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
