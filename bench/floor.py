"""The floor under a workout write: what the statements alone cost, and what the request
costs with no work at all, against the plain reference app's whole write.

Run it from the repository root with ``.venv/bin/python bench/floor.py [--only sqlite]
[--requests 300] [--rounds 3]`` (both databases unless ``--only``).

The write target (bench/README.md) asks for half the reference app's rate with everything
a write does. Whether that is reachable depends on two figures that profiles only hint at,
measured here in one process on the world versus.py builds (inprocess.py's driver, CPU
time of the process, production settings, the access line to /dev/null):

* **reference**: the plain app's whole write (HTTP handling in process, PyJWT, one
  transaction of three statements: the exercises' names, the workout, its sets);
* **runstrong**: our whole write, with an Idempotency-Key, as inprocess.py measures it;
* **statements**: the statements our write's transaction ran, captured from one request
  on their way to the driver (``core.direct``: the idempotency claim, the exercises'
  names, the workout, its sets, the outbox event, the stored answer, the change number
  and the change) replayed with new ids each time on a bare connection: ``sqlite3`` with
  the service's pragmas between ``BEGIN IMMEDIATE`` and ``COMMIT``, or psycopg (which
  prepares a statement on its fifth use, as the service's connections do) in one
  transaction: what the database and its driver cost for what a write stores, with no
  Python around the statements but the driver's. On PostgreSQL the service sends the
  writes it queues (``Direct.later``: the workout, its sets, its event, its
  Idempotency-Key with the answer, the change's number) as one statement
  (``app.core.batched``), without ``BEGIN`` and ``COMMIT``, and takes the exercises'
  names from each worker's copy (``app.training.exercise_names``); the replay sends them
  one by one in a transaction, with the names' read, so there its figure is what they
  cost before they went together, an upper bound;
* **answered at once**: the same request through every layer of ours and FastAPI's (the
  edge, the rate-limit count, the token's check, the body's validation, the thread-pool
  hop, metrics and the access line), its route answering a fixed 201 before any work.

The best ratio any write route of ours could reach is then about reference / (statements
+ answered at once): the rest of our write (SQLAlchemy's session, our Python around each
statement, the answer) can only add to it. Each round measures the four in turn; the
medians are reported.

On PostgreSQL the process's CPU is not all a write costs: the server's backends work for
it too, on the same two cores when served. Each measurement there also reports the CPU
the database's backends used, per write (warm-up included, from their ``/proc`` ticks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import CLOCK_TICKS, machine, write_results  # noqa: E402
from inprocess import Lifespan, apps, call, per_request_us, request_of  # noqa: E402
from versus import (  # noqa: E402
    WORLD_OTHER_WORKOUTS,
    World,
    conninfo,
    database_ticks,
    ticks_between,
    vacuum,
    worlds,
)

from app.core.ids import new_id  # noqa: E402

# Statements of other transactions than the write's: the edge's count and the token's check.
NOT_THE_WRITES = ("INSERT INTO rate_limit_bucket", "SELECT login_session")
SQLITE_PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL")


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    parameters: Any  # the driver's: a sequence, or a list of them for executemany
    many: bool


@contextmanager
def captured() -> Iterator[list[Statement]]:
    """The statements ``core.direct`` sends to the driver meanwhile, as the driver gets them."""
    from app.core import direct

    seen: list[Statement] = []
    original = direct.Direct._driver_call

    def driver_call(self: Any, made: Any, values: Any) -> tuple[str, Any]:
        sql, parameters = original(self, made, values)
        seen.append(Statement(sql, parameters, many=not hasattr(values, "keys")))
        return sql, parameters

    direct.Direct._driver_call = driver_call  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        direct.Direct._driver_call = original  # type: ignore[method-assign]


def _value(parameters: Any, position: int, name: str) -> Any:
    """One parameter as the driver got it: by position (SQLite's ``?``) or by name
    (psycopg's ``%(name)s``)."""
    return parameters[name] if isinstance(parameters, dict) else parameters[position]


def new_ids(statements: Sequence[Statement]) -> dict[Any, bool]:
    """The values a write makes anew, which a replay must replace, each with whether it is
    a row's id (the workout's and its sets': True) or the Idempotency-Key (False); the
    athlete's and the user's ids stay (rows they refer to)."""
    made: dict[Any, bool] = {}
    for statement in statements:
        if statement.sql.startswith("INSERT INTO workout_set"):
            made.update((_value(row, 0, "id"), True) for row in statement.parameters)
        elif statement.sql.startswith("INSERT INTO workout "):
            made[_value(statement.parameters, 0, "id")] = True
        elif statement.sql.startswith("INSERT INTO idempotency_key"):
            made[_value(statement.parameters, 1, "key")] = False
    return made


def _fresh(parameters: Any, ids: dict[Any, Any]) -> Any:
    """``parameters`` with each value the write made replaced by this replay's."""
    if isinstance(parameters, dict):
        return {name: ids.get(v, v) if isinstance(v, str | uuid.UUID) else v for name, v in parameters.items()}
    return [ids.get(v, v) if isinstance(v, str | uuid.UUID) else v for v in parameters]


def _replacements(made: dict[Any, bool]) -> dict[Any, Any]:
    """This replay's values: rows' ids time-ordered as the service makes them
    (``app.core.ids.new_id``; a random id lands on a random page of its index, which costs
    the database more), in the driver's form (a UUID, or SQLite's hex text); the key a
    random one, as a client's is."""
    fresh: dict[Any, Any] = {}
    for value, row_id in made.items():
        if not row_id:
            fresh[value] = uuid.uuid4().hex
        elif isinstance(value, uuid.UUID):
            fresh[value] = new_id()
        else:
            fresh[value] = new_id().hex
    return fresh


def _timed(once: Callable[[], None], count: int) -> float:
    """CPU microseconds of this process per call of ``once``, after a warm-up."""
    for _ in range(max(20, count // 10)):
        once()
    started = time.process_time()
    for _ in range(count):
        once()
    return (time.process_time() - started) * 1e6 / count


def replay_us(path: str, statements: Sequence[Statement], count: int) -> float:
    """CPU microseconds per transaction of ``statements`` on a bare SQLite connection, new
    ids each time; the change's number is the counter's answer, as in the service."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    made = new_ids(statements)

    def once() -> None:
        ids = _replacements(made)
        seq = None
        conn.execute("BEGIN IMMEDIATE")
        for statement in statements:
            if statement.many:
                conn.executemany(statement.sql, [_fresh(row, ids) for row in statement.parameters])
                continue
            values = _fresh(statement.parameters, ids)
            if statement.sql.startswith("INSERT INTO change"):
                values[3] = seq
            rows = conn.execute(statement.sql, values).fetchall()
            if statement.sql.startswith("INSERT INTO sync_counter"):
                seq = rows[0][0]
        conn.execute("COMMIT")

    try:
        return _timed(once, count)
    finally:
        conn.close()


def replay_pg_us(conn: psycopg.Connection[Any], statements: Sequence[Statement], count: int) -> float:
    """CPU microseconds per transaction of ``statements`` on a bare psycopg connection
    (held open by the caller, so its backend's CPU is counted), new ids each time (the
    change's number comes from the statement that takes it, as in the service); the sets
    as one ``executemany``, which psycopg pipelines."""
    made = new_ids(statements)

    def once() -> None:
        ids = _replacements(made)
        with conn.cursor() as cursor:
            for statement in statements:
                if statement.many:
                    cursor.executemany(statement.sql, [_fresh(row, ids) for row in statement.parameters])
                else:
                    cursor.execute(statement.sql, _fresh(statement.parameters, ids))
        conn.commit()

    return _timed(once, count)


async def _delivered(url: str, within_s: float = 30.0) -> None:
    """Until no outbox event is left undelivered (the app's dispatcher looks once a second
    when idle), for at most ``within_s``."""
    pending = "SELECT count(*) FROM outbox_event WHERE dispatched_at IS NULL"
    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if database is not None:
            conn = sqlite3.connect(database)
            try:
                ((left,),) = conn.execute(pending).fetchall()
            finally:
                conn.close()
        else:
            with psycopg.connect(conninfo(url), autocommit=True) as pg:
                row = pg.execute(pending).fetchone()
                left = row[0] if row else 0
        if not left:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"the app's dispatcher left events undelivered for {within_s:.0f} s")


@contextmanager
def answered_at_once() -> Iterator[None]:
    """The workout route's work replaced by a fixed 201: what the layers cost alone."""
    from fastapi.responses import JSONResponse

    from app.training import router

    original = router.idempotent_create
    router.idempotent_create = lambda *_a, **_k: JSONResponse({"id": "fixed"}, 201)
    try:
        yield
    finally:
        router.idempotent_create = original


async def measure(backend: str, url: str, world: World, count: int, rounds: int) -> dict[str, Any]:
    runstrong, reference = apps(url)
    route = world.routes["write"]
    database = make_url(url).database
    assert database is not None
    pg_name = database if backend == "postgresql" else None
    samples: dict[str, list[float]] = {"reference": [], "runstrong": [], "statements": [], "answered_at_once": []}
    server: dict[str, list[float]] = {name: [] for name in samples}
    async with Lifespan(runstrong), Lifespan(reference):
        headers, body = request_of(world, route)
        with captured() as seen:
            status, answer = await call(
                runstrong, "POST", route.path, [*headers, (b"idempotency-key", uuid.uuid4().hex.encode())], body
            )
        if status != 201:
            raise SystemExit(f"the captured write answered {status}: {answer[:300]!r}")
        statements = [s for s in seen if not s.sql.startswith(NOT_THE_WRITES)]
        for statement in statements:
            print(f"  captured: {' '.join(statement.sql.split()[:4])}{' (many)' if statement.many else ''}")

        bare = psycopg.connect(conninfo(url)) if pg_name is not None else None

        async def replayed() -> float:
            if bare is None:
                return replay_us(database, statements, count)
            return replay_pg_us(bare, statements, count)

        async def at_once() -> float:
            with answered_at_once():
                return await per_request_us(runstrong, world, route, count)

        steps: dict[str, Callable[[], Awaitable[float]]] = {
            "reference": lambda: per_request_us(reference, world, route, count),
            "runstrong": lambda: per_request_us(runstrong, world, route, count),
            "statements": replayed,
            "answered_at_once": at_once,
        }
        try:
            for number in range(1, rounds + 1):
                for name, step in steps.items():
                    # Each step starts on the same footing: the events the last one made fanned
                    # out by the app's dispatcher (not counted in this one), and on PostgreSQL
                    # the dead rows of the last one's updates vacuumed, as versus.py does.
                    await _delivered(url)
                    if pg_name is not None:
                        vacuum(url)
                    ticks = database_ticks(pg_name)
                    if ticks is not None and (not ticks or (bare is not None and bare.info.backend_pid not in ticks)):
                        raise SystemExit(f"the database's backends are not on this machine: {ticks}")
                    samples[name].append(await step())
                    if ticks is not None:  # the backends' CPU over warm-up and run, per write
                        used_us = ticks_between(ticks, database_ticks(pg_name) or {}) / CLOCK_TICKS * 1e6
                        server[name].append(used_us / (count + max(20, count // 10)))
                print(f"  round {number}: " + ", ".join(f"{k} {v[-1]:.0f} us" for k, v in samples.items()))
                if pg_name is not None:
                    print("    the database's backends: " + ", ".join(f"{k} {v[-1]:.0f} us" for k, v in server.items()))
        finally:
            if bare is not None:
                bare.close()
    medians = {name: round(statistics.median(values)) for name, values in samples.items()}
    floor = medians["statements"] + medians["answered_at_once"]
    result: dict[str, Any] = {
        "statements_captured": [" ".join(s.sql.split()[:4]) for s in statements],
        "cpu_us_per_write": {name: [round(v) for v in values] for name, values in samples.items()},
        "median_us": medians,
        "ratio_now": round(medians["reference"] / medians["runstrong"], 3),
        "best_ratio": round(medians["reference"] / floor, 3),
    }
    if pg_name is not None:
        result["database_cpu_us_per_write"] = {name: [round(v) for v in values] for name, values in server.items()}
        result["database_median_us"] = {name: round(statistics.median(v)) for name, v in server.items()}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument("--requests", type=int, default=300, help="writes per measurement (300)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "machine": machine(),
        "requests": args.requests,
        "other_workouts": WORLD_OTHER_WORKOUTS,
    }
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    for backend, url, world in worlds(backends):
        print(f"[{backend}] CPU per write, {args.requests} writes, {args.rounds} rounds")
        result = asyncio.run(measure(backend, url, world, args.requests, args.rounds))
        report[backend] = result
        medians = result["median_us"]
        print(
            f"  medians: reference {medians['reference']} us, runstrong {medians['runstrong']} us "
            f"(ratio {result['ratio_now']}); statements {medians['statements']} us + answered at once "
            f"{medians['answered_at_once']} us: best ratio {result['best_ratio']}"
        )
        if "database_median_us" in result:
            print(f"  the database's backends, medians: {json.dumps(result['database_median_us'])}")
    print(f"wrote {write_results('floor', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
