"""What a workout write makes the database write, with random and with time-ordered ids.

Run it from the repository root with ``.venv/bin/python bench/written.py [--only sqlite]
[--requests 1000] [--rounds 4]``.

The service makes its rows' ids as UUID version 7 (``app/core/ids.py``): the millisecond
first, so that a write's new rows land at the end of their key indexes. This measures what
that saves against random version 4 ids, in one process on the world versus.py builds
(inprocess.py's driver, production settings, the access line to /dev/null): rounds of
``--requests`` 10-set writes with an Idempotency-Key, the two kinds of id alternating
(``app.core.ids`` made to give version 4 ids for one of them), each round's order swapped.

* **SQLite**: the bytes the process hands to ``write()`` a write (``wchar`` in
  ``/proc/self/io``): the log's frames, the checkpoints that copy them into the database
  file, and the access line (about 300 bytes).
* **PostgreSQL**: the write-ahead log a write makes (``pg_current_wal_lsn()`` before and
  after), a ``CHECKPOINT`` before each measurement, so the first change to each page after
  it is logged whole, as after any checkpoint in production.
* Both: the process's CPU a write (``time.process_time``; on PostgreSQL the server's own
  work is not in it).

Bytes are what this measures well: they do not move with other work on the machine, and
CPU here does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import machine, write_results  # noqa: E402
from inprocess import Lifespan, apps, call, request_of  # noqa: E402
from versus import WORLD_OTHER_WORKOUTS, World, worlds  # noqa: E402

KINDS = ("version 4", "version 7")


@contextmanager
def ids_of(kind: str) -> Iterator[None]:
    """The service's new ids as ``kind`` for the duration."""
    from app.core import ids

    made = ids._made
    if kind == "version 4":
        ids._made = lambda _milliseconds, _random_bits: uuid.uuid4()  # type: ignore[assignment]
    try:
        yield
    finally:
        ids._made = made


def process_written() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise SystemExit("no wchar in /proc/self/io")


def wal_position(url: str) -> Callable[[], int]:
    address = make_url(url)
    connection = psycopg.connect(
        host=address.host, port=address.port or 5432, user=address.username, dbname=address.database, autocommit=True
    )

    def position() -> int:
        connection.execute("CHECKPOINT")
        found = connection.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        assert found is not None
        return int(found[0])

    return position


async def measure(backend: str, url: str, world: World, count: int, rounds: int) -> dict[str, Any]:
    runstrong, _reference = apps(url)
    route = world.routes["write"]
    headers, body = request_of(world, route)
    written = wal_position(url) if backend == "postgresql" else process_written

    async def writes(number: int) -> None:
        for _ in range(number):
            status, answer = await call(
                runstrong, "POST", route.path, [*headers, (b"idempotency-key", uuid.uuid4().hex.encode())], body
            )
            if status != 201:
                raise SystemExit(f"write: {status} {answer[:300]!r}")

    samples: dict[str, dict[str, list[float]]] = {kind: {"bytes": [], "cpu_us": []} for kind in KINDS}
    async with Lifespan(runstrong):
        await writes(200)  # warm-up: caches, pools, first-call imports
        for number in range(rounds):
            for kind in KINDS if number % 2 == 0 else KINDS[::-1]:
                with ids_of(kind):
                    await writes(20)
                    before, started = written(), time.process_time()
                    await writes(count)
                    cpu, after = time.process_time() - started, written()
                samples[kind]["bytes"].append((after - before) / count)
                samples[kind]["cpu_us"].append(cpu * 1e6 / count)
            print(
                f"  [{backend}] round {number + 1}: "
                + ", ".join(
                    f"{kind} {samples[kind]['bytes'][-1]:,.0f} bytes {samples[kind]['cpu_us'][-1]:.0f} us"
                    for kind in KINDS
                ),
                flush=True,
            )
    return {
        kind: {
            "bytes_per_write": [round(v) for v in found["bytes"]],
            "cpu_us_per_write": [round(v) for v in found["cpu_us"]],
            "median_bytes": round(statistics.median(found["bytes"])),
            "median_cpu_us": round(statistics.median(found["cpu_us"])),
        }
        for kind, found in samples.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--requests", type=int, default=1000, help="writes per measurement (1000)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "machine": machine(),
        "requests": args.requests,
        "rounds": args.rounds,
        "other_workouts": WORLD_OTHER_WORKOUTS,
    }
    for backend, url, world in worlds([args.only] if args.only else ["sqlite", "postgresql"]):
        print(f"[{backend}] {args.requests} writes a measurement, {args.rounds} rounds")
        report[backend] = asyncio.run(measure(backend, url, world, args.requests, args.rounds))
        found = report[backend]
        print(
            f"  [{backend}] medians: "
            + ", ".join(f"{k} {v['median_bytes']:,} bytes {v['median_cpu_us']} us" for k, v in found.items())
            + f"; version 7 writes {found['version 7']['median_bytes'] / found['version 4']['median_bytes']:.2f}"
            " of version 4's bytes"
        )
    print(f"wrote {write_results('written', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
