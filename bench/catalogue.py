"""Catalogue load benchmark: runstrong against a bare Starlette app serving the same bytes.

Run it from the repository root with ``.venv/bin/python bench/catalogue.py`` (or
``make bench``). See bench/README.md for the method, the targets and recorded results.

Steps: build a throw-away SQLite database (``runstrong migrate`` + ``runstrong seed``);
serve runstrong with one uvicorn worker; record the exact bytes of the two measured
responses; load each endpoint with wrk; stop runstrong; serve the same bytes from
bench/bare_app.py and load that; finally load the list endpoint once more on runstrong
with its in-process response cache off. Only one server runs at a time and wrk runs
alone, so on a 2-core machine the server has one core and wrk the other.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
BIN = ROOT / ".venv" / "bin"
RESULTS_DIR = BENCH_DIR / "results"

HOST = "127.0.0.1"
LIST_PATH = "/v1/exercises?limit=20"
DETAIL_PATH = "/v1/exercises/eccentric-heel-raise"
ENDPOINTS = {"list": LIST_PATH, "detail": DETAIL_PATH}

THROUGHPUT_TARGET = 0.70  # runstrong req/s >= 70% of the bare app's
P99_TARGET_MS = 20.0  # p99 latency < 20 ms at 32 connections

# One worker, the fast loop and parser, no per-request logging: the same for both apps.
UVICORN_FLAGS = (
    "--workers",
    "1",
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
)
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
CACHE_ENV = "RUNSTRONG_CATALOGUE_CACHE_ENTRIES"
# Other processes using more than this share of one core during a run disturb its figures.
OTHER_CPU_WARN_PCT = 10.0

WRK_MISSING = "wrk is not installed. It is Debian's `wrk` package:\n    apt-get update && apt-get install -y wrk"


class BenchError(RuntimeError):
    """A step failed; the message says which and why."""


# ---------------------------------------------------------------- wrk


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    avg_ms: float
    max_ms: float
    requests: int
    non_2xx_3xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    # CPU used during the measured run, in % of one core (None where /proc is missing).
    server_cpu_pct: float | None = None
    wrk_cpu_pct: float | None = None
    other_cpu_pct: float | None = None

    @property
    def clean(self) -> bool:
        return self.non_2xx_3xx == 0 and not any(self.socket_errors.values())


_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def _ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def _search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise BenchError(f"could not find {pattern!r} in wrk's output:\n{text}")
    return match


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, the latency distribution and error counts from ``wrk --latency``."""
    rps = float(_search(r"^Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _search(rf"^\s+50%\s+{_TIME}\s*$", output)
    p99 = _search(rf"^\s+99%\s+{_TIME}\s*$", output)
    latency = _search(rf"^\s+Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", output)
    requests = int(_search(r"^\s+(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)) if sockets else {}
    )
    return WrkResult(
        requests_per_s=rps,
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        avg_ms=_ms(latency.group(1), latency.group(2)),
        max_ms=_ms(latency.group(5), latency.group(6)),
        requests=requests,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def run_wrk(url: str, *, threads: int, connections: int, duration_s: int) -> str:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def wrk_version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else "unknown"


# ---------------------------------------------------------------- CPU accounting

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuSample:
    at: float  # time.monotonic()
    busy_ticks: int  # every CPU's non-idle time, from /proc/stat
    server_ticks: int  # the server process's user + system time
    children_s: float  # user + system time of this script's finished children (wrk)


def _cpu_ticks() -> list[int]:
    """/proc/stat's "cpu" line (all CPUs): user nice system idle iowait irq softirq steal."""
    return [int(x) for x in Path("/proc/stat").read_text(encoding="utf-8").split("\n", 1)[0].split()[1:9]]


def _busy_ticks() -> int:
    ticks = _cpu_ticks()
    return sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait


def process_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def cpu_sample(server_pid: int) -> CpuSample | None:
    try:
        busy, server = _busy_ticks(), process_ticks(server_pid)
    except (OSError, ValueError, IndexError):
        return None
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSample(time.monotonic(), busy, server, children.ru_utime + children.ru_stime)


def cpu_use(before: CpuSample | None, after: CpuSample | None) -> dict[str, float | None]:
    """Server, wrk and everything else, each in % of one core, between two samples."""
    if before is None or after is None or after.at <= before.at:
        return {"server_cpu_pct": None, "wrk_cpu_pct": None, "other_cpu_pct": None}
    wall = after.at - before.at
    server = (after.server_ticks - before.server_ticks) / CLOCK_TICKS / wall * 100
    wrk = (after.children_s - before.children_s) / wall * 100
    busy = (after.busy_ticks - before.busy_ticks) / CLOCK_TICKS / wall * 100
    return {
        "server_cpu_pct": round(server, 1),
        "wrk_cpu_pct": round(wrk, 1),
        "other_cpu_pct": round(max(busy - server - wrk, 0.0), 1),
    }


def machine_busy_pct(seconds: float = 2.0) -> float | None:
    """How much of one core other processes use right now (this script is idle meanwhile)."""
    try:
        start = _busy_ticks()
        time.sleep(seconds)
        return round((_busy_ticks() - start) / CLOCK_TICKS / seconds * 100, 1)
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    content_type: str
    body: bytes


def fetch(port: int, path: str, timeout_s: float = 10.0) -> Fetched:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return Fetched(response.status, response.getheader("content-type", ""), body)
    finally:
        conn.close()


def fetch_ok(port: int, path: str) -> Fetched:
    got = fetch(port, path)
    if got.status != 200:
        raise BenchError(f"GET {path} answered {got.status}: {got.body[:300]!r}")
    return got


@dataclass(slots=True)
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.name} exited with {server.process.returncode} before answering:\n{server.log_tail()}"
            )
        try:
            if fetch(server.port, "/healthz", timeout_s=1.0).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{server.name} did not answer /healthz within {READY_TIMEOUT_S:.0f} s")


def _stop(server: Server) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it does not exit in time."""
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"  {server.name} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s: killing it")
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def serving(name: str, target: Sequence[str], env: Mapping[str, str], log_dir: Path) -> Iterator[Server]:
    """Run ``uvicorn <target>`` on a free loopback port until the block exits (even on error)."""
    port = free_port()
    log_path = log_dir / f"{name}.log"
    argv = [str(BIN / "uvicorn"), *target, "--host", HOST, "--port", str(port), *UVICORN_FLAGS]
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C reaches only this script, which then stops the server itself.
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, process, log_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(server)
        if process.returncode not in (0, -signal.SIGTERM):
            print(f"  {name} exited with {process.returncode}; log tail:\n{server.log_tail()}")


# ---------------------------------------------------------------- the runs


@dataclass(frozen=True, slots=True)
class Row:
    endpoint: str
    path: str
    server: str
    result: WrkResult
    ratio_to_bare: float | None = None
    meets_throughput_target: bool | None = None
    meets_p99_target: bool | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    duration_s: int
    warmup_s: int
    threads: int
    connections: int


def measure(server: Server, path: str, settings: Settings) -> WrkResult:
    url = f"http://{HOST}:{server.port}{path}"
    print(f"  {server.name:<18} GET {path}: warm-up {settings.warmup_s} s, run {settings.duration_s} s")
    run_wrk(url, threads=settings.threads, connections=settings.connections, duration_s=settings.warmup_s)
    before = cpu_sample(server.process.pid)
    output = run_wrk(url, threads=settings.threads, connections=settings.connections, duration_s=settings.duration_s)
    after = cpu_sample(server.process.pid)
    use = cpu_use(before, after)
    result = replace(
        parse_wrk(output),
        server_cpu_pct=use["server_cpu_pct"],
        wrk_cpu_pct=use["wrk_cpu_pct"],
        other_cpu_pct=use["other_cpu_pct"],
    )
    errors = "" if result.clean else f"  ERRORS: non-2xx {result.non_2xx_3xx}, {result.socket_errors}"
    cpu = (
        f"  CPU: server {result.server_cpu_pct:.0f}%, wrk {result.wrk_cpu_pct:.0f}%, other {result.other_cpu_pct:.0f}%"
        if result.other_cpu_pct is not None
        else ""
    )
    print(
        f"  {'':<18} {result.requests_per_s:>9.0f} req/s  p50 {result.p50_ms:.2f} ms  "
        f"p99 {result.p99_ms:.2f} ms{cpu}{errors}"
    )
    return result


def runstrong_env(tmp: Path, *, cache: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RUNSTRONG_DATABASE_URL", CACHE_ENV)}
    env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.db'}"
    env["PYTHONUNBUFFERED"] = "1"
    if not cache:
        env[CACHE_ENV] = "0"
    return env


def prepare_database(env: Mapping[str, str]) -> None:
    for command in ("migrate", "seed"):
        print(f"runstrong {command}")
        done = subprocess.run(
            [str(BIN / "runstrong"), command],
            cwd=ROOT,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"`runstrong {command}` exited {done.returncode}:\n{done.stdout}{done.stderr}")


def judge(row: Row, bare: WrkResult) -> Row:
    ratio = row.result.requests_per_s / bare.requests_per_s
    return Row(
        endpoint=row.endpoint,
        path=row.path,
        server=row.server,
        result=row.result,
        ratio_to_bare=ratio,
        meets_throughput_target=ratio >= THROUGHPUT_TARGET and row.result.clean,
        meets_p99_target=row.result.p99_ms < P99_TARGET_MS and row.result.clean,
    )


def run(settings: Settings, tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    cached_env = runstrong_env(tmp, cache=True)
    prepare_database(cached_env)
    runstrong_target = ("app.main:create_app", "--factory")
    fetched: dict[str, Fetched] = {}
    measured: dict[tuple[str, str], WrkResult] = {}

    print("runstrong (response cache on)")
    with serving("runstrong", runstrong_target, cached_env, tmp) as server:
        for name, path in ENDPOINTS.items():
            fetched[name] = fetch_ok(server.port, path)
            if fetch_ok(server.port, path).body != fetched[name].body:
                raise BenchError(f"GET {path} answered different bytes twice in a row")
        for name, path in ENDPOINTS.items():
            measured[name, "runstrong"] = measure(server, path, settings)

    spec: dict[str, list[dict[str, str]]] = {"routes": []}
    for name, path in ENDPOINTS.items():
        body_file = tmp / f"{name}.body"
        body_file.write_bytes(fetched[name].body)
        spec["routes"].append(
            {
                "path": path.partition("?")[0],
                "content_type": fetched[name].content_type,
                "body_file": str(body_file),
            }
        )
    spec_file = tmp / "bare-spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    bare_env = {**os.environ, "BARE_APP_SPEC": str(spec_file), "PYTHONUNBUFFERED": "1"}

    print("bare Starlette app (same bytes)")
    bare_target = ("--app-dir", str(BENCH_DIR), "bare_app:create_app", "--factory")
    with serving("bare", bare_target, bare_env, tmp) as server:
        for name, path in ENDPOINTS.items():
            got = fetch_ok(server.port, path)
            if (got.body, got.content_type) != (fetched[name].body, fetched[name].content_type):
                raise BenchError(f"the bare app does not serve runstrong's bytes for {path}")
        for name, path in ENDPOINTS.items():
            measured[name, "bare"] = measure(server, path, settings)

    print("runstrong (response cache off: every request is routed, validated and queried)")
    uncached_env = runstrong_env(tmp, cache=False)
    with serving("runstrong-uncached", runstrong_target, uncached_env, tmp) as server:
        same_bytes = fetch_ok(server.port, LIST_PATH).body == fetched["list"].body
        measured["list", "runstrong-uncached"] = measure(server, LIST_PATH, settings)

    rows: list[Row] = []
    for name, path in ENDPOINTS.items():
        bare = measured[name, "bare"]
        rows.append(judge(Row(name, path, "runstrong", measured[name, "runstrong"]), bare))
        rows.append(Row(name, path, "bare", bare))
    rows.append(
        judge(
            Row("list", LIST_PATH, "runstrong-uncached", measured["list", "runstrong-uncached"]),
            measured["list", "bare"],
        )
    )
    responses = {
        name: {
            "path": ENDPOINTS[name],
            "content_type": got.content_type,
            "bytes": len(got.body),
        }
        for name, got in fetched.items()
    }
    responses["list"]["uncached_bytes_identical"] = same_bytes
    return rows, responses


# ---------------------------------------------------------------- report


def _yes_no(value: bool | None) -> str:
    if value is None:
        return ""
    return "yes" if value else "**no**"


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| endpoint | server | req/s | p50 ms | p99 ms | vs bare | >= 70% of bare | p99 < 20 ms | other CPU |",
        "|---|---|---:|---:|---:|---:|:---:|:---:|---:|",
    ]
    for row in rows:
        r = row.result
        ratio = f"{row.ratio_to_bare:.0%}" if row.ratio_to_bare is not None else ""
        errors = "" if r.clean else " (errors!)"
        other = f"{r.other_cpu_pct:.0f}%" if r.other_cpu_pct is not None else "?"
        lines.append(
            f"| `GET {row.path}` | {row.server}{errors} | {r.requests_per_s:,.0f} | "
            f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {ratio} | "
            f"{_yes_no(row.meets_throughput_target)} | {_yes_no(row.meets_p99_target)} | {other} |"
        )
    return "\n".join(lines)


def disturbed_rows(rows: Sequence[Row]) -> list[Row]:
    """Rows during which other processes used a noticeable share of the CPU."""
    return [r for r in rows if r.result.other_cpu_pct is not None and r.result.other_cpu_pct > OTHER_CPU_WARN_PCT]


def _versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("runstrong", "fastapi", "starlette", "uvicorn", "uvloop", "httptools"):
        try:
            found[name] = package_version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_times() -> tuple[int, int]:
    """(all, steal) ticks: steal is time the hypervisor gave to other virtual machines."""
    try:
        ticks = _cpu_ticks()
    except (OSError, ValueError):
        return 0, 0
    return sum(ticks), ticks[7] if len(ticks) > 7 else 0


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
        "wrk": wrk_version(),
        "packages": _versions(),
    }


def write_results(name: str, report: dict[str, Any], when: datetime | None = None) -> Path:
    """Write ``results/<name>-<date>.json`` whole (via a temporary file) and return it; a
    later run of the same day gets ``<name>-<date>-2.json`` and so on, so no recorded run
    is overwritten."""
    when = when or datetime.now(UTC)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{when:%Y-%m-%d}"
    target = RESULTS_DIR / f"{stem}.json"
    runs = 1
    while target.exists():
        runs += 1
        target = RESULTS_DIR / f"{stem}-{runs}.json"
    partial = target.with_suffix(".json.tmp")
    partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    partial.replace(target)
    return target


def finish(name: str, table: str, report: dict[str, Any]) -> int:
    """Print ``table``, note the load average at the end in ``report["machine"]`` and write
    the report (with the table) to ``results/<name>-<date>.json``."""
    print()
    print(table)
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    report["markdown"] = table
    print(f"load average at the end: {report['machine']['load_average_at_end']}")
    print(f"wrote {write_results(name, report).relative_to(ROOT)}")
    return 0


# ---------------------------------------------------------------- main


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every ``finally``: servers are stopped


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each run (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    args = parser.parse_args(argv)
    for option in ("duration", "warmup", "connections", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return Settings(args.duration, args.warmup, args.threads, args.connections)


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    for tool in ("uvicorn", "runstrong"):
        if not (BIN / tool).exists():
            print(f"{BIN / tool} is missing: run `make run` or `uv sync` first", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    started = datetime.now(UTC)
    info = machine()
    info["busy_before_start_pct"] = busy = machine_busy_pct()
    if busy is not None and busy > OTHER_CPU_WARN_PCT:
        print(
            f"warning: other processes are using {busy:.0f}% of a core before the start; "
            "the figures will be disturbed (see the 'other CPU' column)"
        )
    cpu_before = cpu_times()
    print(
        f"{info['cpus']} CPUs ({info['cpu_model']}), {info['wrk']}; "
        f"wrk -t{settings.threads} -c{settings.connections} -d{settings.duration_s}s --latency"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="runstrong-bench-") as tmp:
            rows, responses = run(settings, Path(tmp))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: servers stopped, nothing recorded", file=sys.stderr)
        return 130
    except SystemExit:
        print("terminated: servers stopped, nothing recorded", file=sys.stderr)
        raise

    table = markdown_table(rows)
    judged = [row for row in rows if row.server == "runstrong"]
    met = all(row.meets_throughput_target and row.meets_p99_target for row in judged)
    disturbed = disturbed_rows(rows)
    print()
    print(table)
    print()
    print("other CPU: share of one core used by other processes (not the server, not wrk) during the run")
    if disturbed:
        print(
            f"warning: other processes used more than {OTHER_CPU_WARN_PCT:.0f}% of a core during "
            f"{len(disturbed)} of {len(rows)} runs: compare those figures with care or re-run on a quiet machine"
        )
    print(
        f"targets (cached runstrong: >= {THROUGHPUT_TARGET:.0%} of bare req/s and "
        f"p99 < {P99_TARGET_MS:.0f} ms at {settings.connections} connections): "
        f"{'met' if met else 'NOT met'}"
    )
    info["load_average_at_end"] = list(os.getloadavg())
    cpu_after = cpu_times()
    elapsed = cpu_after[0] - cpu_before[0]
    info["cpu_steal_percent"] = round(100 * (cpu_after[1] - cpu_before[1]) / elapsed, 2) if elapsed else None
    report = {
        "benchmark": "catalogue",
        "started_at": started.isoformat(timespec="seconds"),
        "machine": info,
        "settings": asdict(settings) | {"uvicorn": " ".join(UVICORN_FLAGS)},
        "targets": {
            "throughput_ratio_min": THROUGHPUT_TARGET,
            "p99_ms_max": P99_TARGET_MS,
            "judged_rows": "runstrong (response cache on)",
            "met": met,
        },
        "disturbed_runs": [f"{r.server} {r.path}" for r in disturbed],
        "responses": responses,
        "rows": [{k: v for k, v in asdict(row).items() if k != "result"} | asdict(row.result) for row in rows],
        "markdown": table,
    }
    target = write_results("catalogue", report, started)
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
