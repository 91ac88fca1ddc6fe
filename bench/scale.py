"""Scale-out benchmark: throughput with 1, 2 and 4 workers on PostgreSQL.

Runs ``runstrong serve --workers N`` as production does (RUNSTRONG_ENVIRONMENT=production:
JSON access log for every request written to a file, Prometheus metrics shared between
workers, rate limits on with a budget too large to refuse anything, so each write pays
for its rate-limit upsert) against one PostgreSQL database, and measures with wrk:

1. the catalogue list, GET /v1/exercises?limit=20 (answered from each worker's cache);
2. workout writes, POST .../workouts of 10 sets with a fresh Idempotency-Key, spread
   over 32 athletes (one athlete's writes are serialised by its change-feed counter, so
   a single-athlete run measures that lock, not the service);
3. the same writes from one athlete, to show that lock.

Each measured run follows a 2 s warm-up. For each run it records requests/s, p50/p99
latency, and where the CPU went (the server's processes, PostgreSQL, wrk, in % of one
core; the machine has os.cpu_count() cores), so the table shows what limits throughput.

Run: .venv/bin/python bench/scale.py [--duration 10] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import (  # noqa: E402
    BIN,
    CLOCK_TICKS,
    HOST,
    READY_TIMEOUT_S,
    ROOT,
    BenchError,
    WrkResult,
    fetch,
    free_port,
    machine,
    prepare_database,
    write_results,
)
from training import SECRET, account, database, workout_body, wrk  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
READ_CONNECTIONS = 32
WRITE_CONNECTIONS = 16
ATHLETES = 32
WARM_UP_S = 2


@dataclass(frozen=True, slots=True)
class Measured:
    workers: int
    what: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    failed: int
    server_cpu_pct: float
    postgres_cpu_pct: float
    wrk_cpu_pct: float
    machine_busy_pct: float


# ---------------------------------------------------------------- CPU accounting


def _ticks(pid: int) -> tuple[int, int, str]:
    """(parent pid, utime + stime, command name) of one process."""
    raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw.rpartition(")")[2].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), name


def _snapshot(server_pid: int) -> dict[str, int]:
    """CPU ticks so far of the server's process tree and PostgreSQL's processes, and the
    machine's busy ticks."""
    procs: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                procs[int(entry.name)] = _ticks(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    tree = {server_pid}
    changed = True
    while changed:
        children = {pid for pid, (ppid, _, _) in procs.items() if ppid in tree} - tree
        changed = bool(children)
        tree |= children
    totals = {"server": 0, "postgres": 0}
    for pid, (_, ticks, name) in procs.items():
        if pid in tree:
            totals["server"] += ticks
        elif name == "postgres":
            totals["postgres"] += ticks
    stat = [int(x) for x in Path("/proc/stat").read_text(encoding="utf-8").split("\n", 1)[0].split()[1:9]]
    totals["busy"] = sum(stat) - stat[3] - stat[4]
    return totals


def _pct(before: dict[str, int], after: dict[str, int], key: str, seconds: float) -> float:
    # Processes that exit during the run take their ticks with them: never below zero.
    return max(0.0, round((after[key] - before[key]) / CLOCK_TICKS / seconds * 100, 1))


# ---------------------------------------------------------------- the server


@contextmanager
def serve(workers: int, env: Mapping[str, str], log_dir: Path) -> Iterator[tuple[int, int]]:
    """``runstrong serve --workers N`` on a free port; yields (port, pid)."""
    port = free_port()
    log_path = log_dir / f"serve-{workers}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "runstrong"), "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        ready = 0
        while ready < workers * 4 and time.monotonic() < deadline:  # let every worker come up
            if process.poll() is not None:
                raise BenchError(f"the server exited with {process.returncode}: see {log_path}")
            try:
                ready += fetch(port, "/readyz", timeout_s=1.0).status == 200
            except OSError:
                time.sleep(0.1)
        if not ready:
            raise BenchError(f"the server did not become ready: see {log_path}")
        time.sleep(1.0)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def measure(workers: int, what: str, server_pid: int, run: Any, seconds: int) -> Measured:
    run(warm_up=True)
    before = _snapshot(server_pid)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result: WrkResult = run(warm_up=False)
    elapsed = time.monotonic() - started
    after = _snapshot(server_pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu_s = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    failed = result.non_2xx_3xx + sum(result.socket_errors.values())
    row = Measured(
        workers=workers,
        what=what,
        requests_per_s=round(result.requests_per_s, 1),
        p50_ms=round(result.p50_ms, 2),
        p99_ms=round(result.p99_ms, 2),
        failed=failed,
        server_cpu_pct=_pct(before, after, "server", elapsed),
        postgres_cpu_pct=_pct(before, after, "postgres", elapsed),
        wrk_cpu_pct=round(wrk_cpu_s / elapsed * 100, 1),  # wrk is our child: its rusage once it exits
        machine_busy_pct=_pct(before, after, "busy", elapsed),
    )
    print(
        f"  {workers} worker(s) {what:<16} {row.requests_per_s:>9,.0f} req/s  p50 {row.p50_ms:7.2f} ms  "
        f"p99 {row.p99_ms:8.2f} ms  failed {failed}  cpu: server {row.server_cpu_pct}% "
        f"postgres {row.postgres_cpu_pct}% wrk {row.wrk_cpu_pct}% (machine {row.machine_busy_pct}%)"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--log-dir", type=Path, help="keep the servers' JSON logs here (default: discarded)")
    args = parser.parse_args()

    rows: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="runstrong-scale-") as tmp_name:
        tmp = Path(tmp_name)
        with database("postgresql", tmp) as url:
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "RUNSTRONG_ENVIRONMENT": "production",
                "RUNSTRONG_SECRET_KEY": SECRET,
                "RUNSTRONG_LOG_LEVEL": "info",
                "RUNSTRONG_RATE_LIMIT_WRITES": "1000000000",
                "RUNSTRONG_RATE_LIMIT_PLANS": "1000000000",
                "RUNSTRONG_LOGIN_LIMIT_PER_ADDRESS": "1000000",
                "RUNSTRONG_DB_POOL_SIZE": "8",
                "RUNSTRONG_DB_MAX_OVERFLOW": "8",
            }
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            prepare_database(env)
            body_file = tmp / "workout.json"
            body_file.write_text(json.dumps(workout_body(10)), encoding="utf-8")
            tokens_file = tmp / "tokens.txt"
            for workers in args.workers:
                log_dir = args.log_dir or tmp
                log_dir.mkdir(parents=True, exist_ok=True)
                with serve(workers, env, log_dir) as (port, pid):
                    base = f"http://{HOST}:{port}"
                    tokens = [account(base)[1] for _ in range(ATHLETES)]
                    tokens_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
                    wrk_env = {**os.environ, "BODY_FILE": str(body_file)}
                    catalogue = f"{base}/v1/exercises?limit=20"
                    rows.append(
                        measure(
                            workers,
                            "catalogue list",
                            pid,
                            lambda warm_up, url=catalogue, e=wrk_env: wrk(
                                url,
                                connections=READ_CONNECTIONS,
                                duration_s=WARM_UP_S if warm_up else args.duration,
                                env=e,
                            ),
                            args.duration,
                        )
                    )
                    writes = f"{base}/v1/athletes/me/workouts"
                    for what, who in (
                        ("workout writes", {"TOKENS_FILE": str(tokens_file)}),
                        ("one athlete", {"TOKEN": tokens[0]}),
                    ):
                        rows.append(
                            measure(
                                workers,
                                what,
                                pid,
                                lambda warm_up, url=writes, e={**wrk_env, **who}: wrk(
                                    url,
                                    connections=WRITE_CONNECTIONS,
                                    duration_s=WARM_UP_S if warm_up else args.duration,
                                    env=e,
                                    script=BENCH_DIR / "post_workout.lua",
                                ),
                                args.duration,
                            )
                        )

    target = write_results(
        "scale", {"machine": machine(), "duration_s": args.duration, "rows": [asdict(r) for r in rows]}
    )
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
