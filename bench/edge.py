"""The cached catalogue as deployed, against a bare Starlette app serving the same bytes.

Run it from the repository root with ``.venv/bin/python bench/edge.py [--rounds 3]``.

Every server runs at once, each pinned to the same core (``taskset``), and wrk runs pinned
to the other core. The servers are measured interleaved: round after round, each server in
turn, so a change in what else runs on the machine hits every server alike; ratios are
taken within a round, against that round's bare run.

* ``bare``: bench/bare_app.py on uvicorn (uvloop, httptools, no access log): the cheapest
  ASGI app serving the same bytes.
* ``serve``: ``runstrong serve`` as production runs it (``RUNSTRONG_ENVIRONMENT=production``:
  the JSON access line for every request, written to a file; metrics on; the edge), with
  the HTTP parser it chooses by default.
* ``serve-h11`` (with ``--parsers``): the same with ``--http h11``, to compare the parsers.
* ``serve-before`` (with ``--compare DIR``): ``runstrong serve`` of another checkout (say
  ``git archive`` of an earlier commit unpacked in DIR), on the same database.

The first response of each server is checked to be the same bytes as the bare app's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalogue import (
    BENCH_DIR,
    BIN,
    HOST,
    LIST_PATH,
    ROOT,
    BenchError,
    Server,
    WrkResult,
    cpu_sample,
    cpu_use,
    fetch_ok,
    finish,
    free_port,
    machine,
    machine_busy_pct,
    parse_wrk,
    prepare_database,
)

TARGET = 0.70
SERVER_CORE = "0"
WRK_CORE = "1"
READY_TIMEOUT_S = 60.0
SECRET = "bench-secret-" + "x" * 40


@dataclass(frozen=True, slots=True)
class Run:
    round: int
    server: str
    result: WrkResult


def _wait(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"{server.name} exited before answering:\n{server.log_tail()}")
        try:
            fetch_ok(server.port, "/healthz")
            return
        except (OSError, BenchError):
            time.sleep(0.2)
    raise BenchError(f"{server.name} did not answer within {READY_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


@contextmanager
def pinned(name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, cwd: Path = ROOT) -> Iterator[Server]:
    """Run ``argv`` pinned to the server core until the block exits."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *argv],
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    port = int(env["BENCH_PORT"])
    server = Server(name, port, process, log_path)
    try:
        _wait(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def serve_argv(port: int, http: str | None, checkout: Path | None = None) -> list[str]:
    command = [str(BIN / "runstrong")] if checkout is None else [sys.executable, "-c", "from app.cli import app; app()"]
    argv = [*command, "serve", "--host", HOST, "--port", str(port)]
    return [*argv, "--http", http] if http else argv


def production_env(database: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTRONG_") and k != "DATABASE_URL"}
    env |= {
        "DATABASE_URL": f"sqlite:///{database}",
        "RUNSTRONG_ENVIRONMENT": "production",
        "RUNSTRONG_SECRET_KEY": SECRET,
        "PYTHONUNBUFFERED": "1",
        "BENCH_PORT": str(port),
    }
    return env


def measure(
    server: Server,
    *,
    duration_s: int,
    warmup_s: int,
    connections: int,
    path: str = LIST_PATH,
    script: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> WrkResult:
    """wrk pinned to the other core against ``path`` (with a Lua ``script`` and its ``env``),
    after a warm-up; the CPU split of the measured run comes with the result."""
    url = f"http://{HOST}:{server.port}{path}"
    wrk = ["taskset", "-c", WRK_CORE, "wrk", "-t1", f"-c{connections}", "--timeout", "10s"]
    if script is not None:
        wrk += ["-s", str(script)]
    run_env = dict(env) if env is not None else None
    subprocess.run([*wrk, f"-d{warmup_s}s", url], capture_output=True, check=True, timeout=warmup_s + 60, env=run_env)
    before = cpu_sample(server.process.pid)
    done = subprocess.run(
        [*wrk, f"-d{duration_s}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=duration_s + 60,
        env=run_env,
    )
    after = cpu_sample(server.process.pid)
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr}")
    use = cpu_use(before, after)
    result = parse_wrk(done.stdout)
    return WrkResult(**{**asdict(result), **use})


def run(args: argparse.Namespace, tmp: Path) -> list[Run]:
    database = tmp / "bench.db"
    prepare_database(production_env(database, 0))
    variants: list[tuple[str, str | None]] = [("serve", None)]
    if args.parsers:
        variants = [("serve-httptools", "httptools"), ("serve-h11", "h11")]
    runs: list[Run] = []
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        for name, http in variants:
            port = free_port()
            servers[name] = stack.enter_context(
                pinned(name, serve_argv(port, http), production_env(database, port), tmp)
            )
        if args.compare:
            checkout = Path(args.compare).resolve()
            port = free_port()
            env = production_env(database, port) | {"PYTHONPATH": str(checkout)}
            servers["serve-before"] = stack.enter_context(
                pinned("serve-before", serve_argv(port, None, checkout), env, tmp, cwd=checkout)
            )
        body = fetch_ok(servers[variants[0][0]].port, LIST_PATH)
        (tmp / "list.body").write_bytes(body.body)
        spec = tmp / "bare-spec.json"
        route = {
            "path": LIST_PATH.partition("?")[0],
            "content_type": body.content_type,
            "body_file": str(tmp / "list.body"),
        }
        spec.write_text(json.dumps({"routes": [route]}), encoding="utf-8")
        port = free_port()
        bare_argv = [
            str(BIN / "uvicorn"),
            *("--app-dir", str(BENCH_DIR), "bare_app:create_app", "--factory"),
            *("--host", HOST, "--port", str(port), "--loop", "uvloop", "--http", "httptools"),
            *("--no-access-log", "--log-level", "warning"),
        ]
        bare_env = {**os.environ, "BARE_APP_SPEC": str(spec), "BENCH_PORT": str(port)}
        servers = {"bare": stack.enter_context(pinned("bare", bare_argv, bare_env, tmp)), **servers}
        for name, server in servers.items():
            got = fetch_ok(server.port, LIST_PATH)
            if got.body != body.body:
                raise BenchError(f"{name} serves other bytes than runstrong")
        for number in range(1, args.rounds + 1):
            for name, server in servers.items():
                result = measure(server, duration_s=args.duration, warmup_s=args.warmup, connections=args.connections)
                print(
                    f"round {number} {name:<16} {result.requests_per_s:>8.0f} req/s  p50 {result.p50_ms:.2f} ms  "
                    f"p99 {result.p99_ms:.2f} ms  server CPU {result.server_cpu_pct}% "
                    f"({cpu_us(result) or 0:.0f} us/req)  other {result.other_cpu_pct}%"
                )
                runs.append(Run(number, name, result))
        lines = sum(1 for line in (tmp / f"{variants[0][0]}.log").open() if '"runstrong.access"' in line)
        print(f"{variants[0][0]} wrote {lines:,} access lines")
    return runs


def cpu_us(result: WrkResult) -> float | None:
    """The server's CPU time per request, in us: steadier than req/s when other processes
    take turns on the server's core."""
    if result.server_cpu_pct is None or not result.requests_per_s:
        return None
    return result.server_cpu_pct / 100 / result.requests_per_s * 1e6


def summarise(runs: Sequence[Run]) -> tuple[str, dict[str, Any]]:
    names = list(dict.fromkeys(r.server for r in runs))
    bare = {r.round: r.result.requests_per_s for r in runs if r.server == "bare"}
    bare_cpu = [c for r in runs if r.server == "bare" and (c := cpu_us(r.result)) is not None]
    lines = [
        "| server | median req/s | req/s per round | median p99 ms | ratio to bare per round | median ratio "
        "| CPU us/request | CPU ratio (bare / server) |",
        "|---|---:|---|---:|---|---:|---:|---:|",
    ]
    summary: dict[str, Any] = {}
    for name in names:
        mine = [r for r in runs if r.server == name]
        rps = [r.result.requests_per_s for r in mine]
        ratios = [r.result.requests_per_s / bare[r.round] for r in mine]
        p99 = statistics.median(r.result.p99_ms for r in mine)
        cpu = [c for r in mine if (c := cpu_us(r.result)) is not None]
        cpu_median = statistics.median(cpu) if cpu else None
        cpu_ratio = statistics.median(bare_cpu) / cpu_median if cpu_median and bare_cpu else None
        summary[name] = {
            "median_rps": statistics.median(rps),
            "median_p99_ms": p99,
            "ratios": ratios,
            "cpu_us_per_request": cpu_median,
            "cpu_ratio": cpu_ratio,
        }
        ratio_text = "" if name == "bare" else ", ".join(f"{x:.2f}" for x in ratios)
        median_ratio = "" if name == "bare" else f"**{statistics.median(ratios):.2f}**"
        lines.append(
            f"| {name} | {statistics.median(rps):,.0f} | {', '.join(f'{x:,.0f}' for x in rps)} | {p99:.2f} "
            f"| {ratio_text} | {median_ratio} | {cpu_median or 0:.0f} "
            f"| {'' if name == 'bare' else f'{cpu_ratio or 0:.2f}'} |"
        )
    return "\n".join(lines), summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--parsers", action="store_true", help="compare runstrong serve on httptools and on h11")
    parser.add_argument("--compare", metavar="DIR", help="also serve the checkout in DIR (an earlier commit)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("wrk and taskset are needed", file=sys.stderr)
        return 2
    info = machine()
    info["busy_before_start_pct"] = machine_busy_pct()
    with tempfile.TemporaryDirectory(prefix="runstrong-edge-bench-") as tmp:
        try:
            runs = run(args, Path(tmp))
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    table, summary = summarise(runs)
    report = {
        "benchmark": "edge",
        "settings": vars(args),
        "machine": info,
        "target_ratio": TARGET,
        "summary": summary,
        "runs": [{"round": r.round, "server": r.server, **asdict(r.result)} for r in runs],
    }
    return finish("edge-parsers" if args.parsers else "edge", table, report)


if __name__ == "__main__":
    sys.exit(main())
