"""The floor under a workout write on SQLite: what the statements alone cost, and what the
request costs with no work at all, against the plain reference app's whole write.

Run it from the repository root with ``.venv/bin/python bench/floor.py [--requests 300]
[--rounds 3]``.

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
  and the change) replayed on a bare ``sqlite3`` connection with the service's pragmas,
  between ``BEGIN IMMEDIATE`` and ``COMMIT``, with new ids each time: what SQLite itself
  costs for what a write stores, with no Python around it but the driver's;
* **answered at once**: the same request through every layer of ours and FastAPI's (the
  edge, the rate-limit count, the token's check, the body's validation, the thread-pool
  hop, metrics and the access line), its route answering a fixed 201 before any work.

The best ratio any write route of ours could reach is then about reference / (statements
+ answered at once): the rest of our write (SQLAlchemy's session, our Python around each
statement, the answer) can only add to it. Each round measures the four in turn; the
medians are reported.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import machine, write_results  # noqa: E402
from inprocess import Lifespan, apps, call, per_request_us, request_of  # noqa: E402
from versus import World, worlds  # noqa: E402

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


def new_ids(statements: Sequence[Statement]) -> set[str]:
    """The values a write makes anew (the workout's and its sets' ids, the key), which a
    replay must replace: the athlete's and the user's ids stay (rows they refer to)."""
    made: set[str] = set()
    for statement in statements:
        if statement.sql.startswith("INSERT INTO workout_set"):
            made.update(row[0] for row in statement.parameters)
        elif statement.sql.startswith("INSERT INTO workout "):
            made.add(statement.parameters[0])
        elif statement.sql.startswith("INSERT INTO idempotency_key"):
            made.add(statement.parameters[1])
    return made


def replay_us(path: str, statements: Sequence[Statement], count: int) -> float:
    """CPU microseconds per transaction of ``statements`` on a bare connection, new ids each
    time; the change's number is the counter's answer, as in the service."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    made = new_ids(statements)

    def fresh(values: Sequence[Any], ids: dict[str, str]) -> list[Any]:
        return [ids.get(v, v) if isinstance(v, str) else v for v in values]

    def once() -> None:
        ids = {value: uuid.uuid4().hex for value in made}
        seq = None
        conn.execute("BEGIN IMMEDIATE")
        for statement in statements:
            if statement.many:
                conn.executemany(statement.sql, [fresh(row, ids) for row in statement.parameters])
                continue
            values = fresh(statement.parameters, ids)
            if statement.sql.startswith("INSERT INTO change"):
                values[3] = seq
            rows = conn.execute(statement.sql, values).fetchall()
            if statement.sql.startswith("INSERT INTO sync_counter"):
                seq = rows[0][0]
        conn.execute("COMMIT")

    try:
        for _ in range(max(20, count // 10)):
            once()
        started = time.process_time()
        for _ in range(count):
            once()
        return (time.process_time() - started) * 1e6 / count
    finally:
        conn.close()


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


async def measure(url: str, world: World, count: int, rounds: int) -> dict[str, Any]:
    runstrong, reference = apps(url)
    route = world.routes["write"]
    path = make_url(url).database
    assert path is not None
    samples: dict[str, list[float]] = {"reference": [], "runstrong": [], "statements": [], "answered_at_once": []}
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
        for number in range(1, rounds + 1):
            samples["reference"].append(await per_request_us(reference, world, route, count))
            samples["runstrong"].append(await per_request_us(runstrong, world, route, count))
            samples["statements"].append(replay_us(path, statements, count))
            with answered_at_once():
                samples["answered_at_once"].append(await per_request_us(runstrong, world, route, count))
            print(f"  round {number}: " + ", ".join(f"{k} {v[-1]:.0f} us" for k, v in samples.items()))
    medians = {name: round(statistics.median(values)) for name, values in samples.items()}
    floor = medians["statements"] + medians["answered_at_once"]
    return {
        "statements_captured": [" ".join(s.sql.split()[:4]) for s in statements],
        "cpu_us_per_write": {name: [round(v) for v in values] for name, values in samples.items()},
        "median_us": medians,
        "ratio_now": round(medians["reference"] / medians["runstrong"], 3),
        "best_ratio": round(medians["reference"] / floor, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="writes per measurement (300)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine(), "requests": args.requests}
    for _backend, url, world in worlds(["sqlite"]):
        print(f"[sqlite] CPU per write, {args.requests} writes, {args.rounds} rounds")
        result = asyncio.run(measure(url, world, args.requests, args.rounds))
        report["sqlite"] = result
        medians = result["median_us"]
        print(
            f"  medians: reference {medians['reference']} us, runstrong {medians['runstrong']} us "
            f"(ratio {result['ratio_now']}); statements {medians['statements']} us + answered at once "
            f"{medians['answered_at_once']} us: best ratio {result['best_ratio']}"
        )
    print(f"wrote {write_results('floor', report)}")
    print(json.dumps(report["sqlite"]["median_us"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
