"""Instructions per request, counted by valgrind's callgrind: runstrong and the plain
reference app, route by route, for this tree and, with ``--base``, an earlier commit.

Run it from the repository root with ``.venv/bin/python bench/instructions.py [--base
<commit>] [--only sqlite] [--routes record,page] [--requests 100]``. It needs valgrind
(Debian's package ``valgrind``, which brings ``callgrind_control``).

On the shared 2-core benchmark machines the CPU time of the same code moves by a third
between runs minutes apart, so a change worth 5-15 % to a route cannot be told from the
host's noise by timing it (bench/README.md, the thirteenth and fourteenth rounds). The
number of instructions the process executes for a request hardly moves: counted here, the
same code's runs agree within about 1 %. An instruction is not a microsecond (a cache miss
or a system call costs more than its count says), so this ranks changes to our own Python
and tells whether one helped; throughput against the reference stays versus.py's to report.

How: the world versus.py builds (a reader with 200 workouts of 5 sets, runs, check-ins and
a 17-week Achilles plan) is made once, in a fresh database. Then, for each tree, a process
runs under callgrind with instrumentation off while it imports (4 times slower rather than
50), builds both apps as ``runstrong serve`` configures them in production (the access
line to /dev/null, as inprocess.py does), and waits. Instrumentation goes on; for each route
and each app the process sends a warm-up of requests, then the counters are zeroed, it sends
``--requests`` requests through a minimal ASGI driver (inprocess.py's), and the counts are
dumped. Every thread counts: the thread-pool hops and the log writer's thread are part of a
request's cost. The app code is the measured tree's (its root comes first on ``sys.path``);
the driver and the reference app are this tree's, so both trees are measured alike. The
earlier commit must read the same database schema (no migration between the two).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_ROUTES = "record,page,changes,catalogue,preview,write"


# ---------------------------------------------------------------- the measured process


def child(tree: Path, world_file: Path, url: str, names: Sequence[str], count: int, warmup: int) -> None:
    """Runs under callgrind: speaks to the parent over stdin/stdout, one line at a time."""
    # The measured tree's own driver (inprocess.py) and reference app: they put that tree's
    # root first on the path, so the app imported is the tree's.
    sys.path.insert(0, str(tree / "bench"))
    from inprocess import Lifespan, apps
    from versus import World, routes_of

    raw: dict[str, str] = json.loads(world_file.read_text(encoding="utf-8"))
    world = World(
        reader_token=raw["reader_token"],
        writer_token=raw["writer_token"],
        workout_id=raw["workout_id"],
        plan_id=raw["plan_id"],
        workout_file=Path(raw["workout_file"]),
        preview_file=Path(raw["preview_file"]),
    )
    world.routes = routes_of(world)
    # The embedded webhook dispatcher wakes once a second whatever the traffic: under
    # callgrind a phase lasts seconds, and its rounds were most of the count's spread.
    os.environ["RUNSTRONG_WORKER_EMBEDDED"] = "false"
    runstrong, reference = apps(url)
    import app as measured

    say(f"IMPORTED {Path(measured.__file__).resolve().parent.parent}")
    listen()

    async def run() -> None:
        async with Lifespan(runstrong), Lifespan(reference):
            for name in names:
                for label, target in (("runstrong", runstrong), ("reference", reference)):
                    await send(target, world, name, warmup)
                    say(f"READY {name} {label}")
                    listen()
                    await send(target, world, name, count)
                    say("DONE")
                    listen()

    asyncio.run(run())
    say("END")


async def send(app: Any, world: Any, name: str, count: int) -> None:
    """``count`` requests of route ``name`` to ``app``, one at a time, each checked."""
    from inprocess import call, request_of

    route = world.routes[name]
    headers, body = request_of(world, route)
    expected = 201 if name == "write" else 200
    for _ in range(count):
        extra = [(b"idempotency-key", uuid.uuid4().hex.encode())] if name == "write" else []
        status, answer = await call(app, route.method, route.path, headers + extra, body)
        if status != expected:
            raise SystemExit(f"{name}: {status} {answer[:300]!r}")


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def listen() -> None:
    sys.stdin.readline()


# ---------------------------------------------------------------- the driver


@dataclasses.dataclass
class Measured:
    """A process under callgrind and the dumps it has written."""

    process: subprocess.Popen[str]
    out: Path
    log: Path

    def expect(self, prefix: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith(prefix):
            self.process.kill()
            tail = "".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-30:])
            raise SystemExit(f"expected {prefix!r} from the measured process, got {line!r}\n{tail}")
        return line

    def tell(self) -> None:
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write("go\n")
        stdin.flush()

    def control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(self.process.pid)], check=True, capture_output=True)


def instructions_of(dump: Path) -> int:
    """The instructions (Ir) a callgrind dump counted."""
    for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {dump}")


def measure_tree(
    tree: Path, world_file: Path, url: str, names: Sequence[str], count: int, warmup: int, tmp: Path
) -> dict[str, dict[str, int]]:
    """Instructions per request of each route and app, for one tree."""
    out = tmp / f"callgrind.{uuid.uuid4().hex[:8]}"
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(tree),
        "--world",
        str(world_file),
        "--url",
        url,
        "--routes",
        ",".join(names),
        "--requests",
        str(count),
        "--warmup",
        str(warmup),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    log_path = tmp / "valgrind.log"
    with log_path.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    measured = Measured(process, out, log_path)
    imported = measured.expect("IMPORTED").split(" ", 1)[1]
    if Path(imported) != tree.resolve():
        process.kill()
        raise SystemExit(f"the measured process imported app from {imported}, not {tree}")
    measured.control("--instr=on")
    measured.tell()
    results: dict[str, dict[str, int]] = {}
    for dump in range(1, 2 * len(names) + 1):  # callgrind numbers its dumps from 1
        _, name, label = measured.expect("READY").split()
        measured.control("--zero")
        measured.tell()
        measured.expect("DONE")
        measured.control(f"--dump={name}-{label}")
        measured.tell()
        results.setdefault(name, {})[label] = round(instructions_of(Path(f"{out}.{dump}")) / count)
    measured.expect("END")
    process.wait(timeout=120)
    return results


def worktree(commit: str, tmp: Path) -> Path:
    """``commit`` checked out beside this tree, sharing its .venv."""
    path = tmp / f"base-{commit[:12]}"
    subprocess.run(["git", "worktree", "add", "--detach", "--force", str(path), commit], cwd=ROOT, check=True)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="an earlier commit to count beside this tree")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--routes", default=DEFAULT_ROUTES)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n for n in args.routes.split(",") if n]
    if args.child:
        child(args.child, args.world, args.url, names, args.requests, args.warmup)
        return 0
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install valgrind)")

    sys.path[:0] = [str(BENCH_DIR), str(ROOT)]
    from catalogue import machine
    from versus import ROUTE_NAMES, worlds

    unknown = sorted(set(names) - set(ROUTE_NAMES))
    if unknown:
        raise SystemExit(f"unknown routes: {', '.join(unknown)}")
    report: dict[str, Any] = {"machine": machine(), "requests": args.requests, "database": args.only}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        trees = {"tree": ROOT}
        try:
            if args.base:
                base = subprocess.run(
                    ["git", "rev-parse", args.base], cwd=ROOT, check=True, capture_output=True, text=True
                ).stdout.strip()
                trees = {f"base {base[:7]}": worktree(base, tmp), "tree": ROOT}
            for _backend, url, world in worlds([args.only]):
                world_file = tmp / "world.json"
                fields = {f.name: getattr(world, f.name) for f in dataclasses.fields(world) if f.name != "routes"}
                world_file.write_text(json.dumps({k: str(v) for k, v in fields.items()}), encoding="utf-8")
                for label, tree in trees.items():
                    print(f"[{args.only}] {label}: instructions per request, {args.requests} requests each", flush=True)
                    counted = measure_tree(tree, world_file, url, names, args.requests, args.warmup, tmp)
                    report[label] = counted
                    for name, apps_ in counted.items():
                        ours, theirs = apps_["runstrong"], apps_["reference"]
                        print(f"  {name:<10} runstrong {ours:>12,}  reference {theirs:>12,}  ratio {theirs / ours:.3f}")
        finally:
            for label, tree in trees.items():
                if label != "tree":
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    if args.base:
        base_label = next(k for k in report if k.startswith("base "))
        print(f"change from {base_label} to this tree (runstrong's instructions per request)")
        for name in names:
            before, after = report[base_label][name]["runstrong"], report["tree"][name]["runstrong"]
            print(f"  {name:<10} {before:>12,} -> {after:>12,}  {100 * (after - before) / before:+.1f} %")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
