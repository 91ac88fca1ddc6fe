"""Where one route's CPU goes in process, thread by thread: inprocess.py's run of the route
sampled by py-spy, its samples split by thread and summed by function.

Run it from the repository root with ``.venv/bin/python bench/sampled.py --route write
[--only sqlite] [--requests 5000] [--rate 250] [--all-samples] [--top 40] [--raw FILE]``.

inprocess.py sends the route to runstrong and to the reference app, one request at a time,
in one process; py-spy (a dependency of the project) samples that process. By default only
the thread holding the interpreter is sampled (py-spy's ``--gil``): where our Python
spends its time, without the time a thread waits for the interpreter (which would show
as the line it waits on) but also without C code that lets the interpreter go (SQLite's
statements and commit, a socket's wait). ``--all-samples`` samples every running thread
instead. Each sample is put with one of:

* **loop**: runstrong's requests on the event loop (the stack holds ``app/core/front.py``);
* **lifespan**: runstrong's start-up and the tasks its lifespan runs (building the routes,
  the sweeps): not a request's cost, so left out of runstrong's shares;
* **pool**: the thread pool's threads (``WorkerThread.run``; only runstrong uses them);
* **dispatcher**: the webhook dispatcher's thread;
* **log writer**: the access log's batch writer thread (``app/core/logs.py`` in a thread);
* **reference**: the reference app's requests (``reference_app.py``);
* **other**: anything else (start-up, the driver, the garbage collector between frames).

For the loop and the pool, the functions under which most samples fell (inclusive, as a
share of that thread kind's samples) and those that were running (own). A run of 5,000
writes takes about a minute and a half per database.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import BIN, ROOT  # noqa: E402
from versus import ROUTE_NAMES  # noqa: E402

KINDS = ("loop", "lifespan", "pool", "dispatcher", "log writer", "reference", "other")
_LINE = re.compile(r":\d+\)$")  # a frame's line number: functions are summed over their lines


def kind_of(frames: Sequence[str]) -> str:
    """Which thread kind a sample's stack (outermost frame first) belongs to."""
    stack = ";".join(frames)
    if "WorkerThread.run" in stack:
        return "pool"
    if "app/webhooks/dispatcher.py" in stack:
        return "dispatcher"
    if "create_app.<locals>.lifespan (app/main.py)" in stack:
        return "lifespan"
    if "app/core/front.py" in stack:
        return "loop"
    if "reference_app.py" in stack:
        return "reference"
    if "Thread.run" in stack and "app/core/logs.py" in stack:
        return "log writer"
    return "other"


def samples(raw: Iterable[str]) -> Iterable[tuple[list[str], int]]:
    """py-spy's raw output (``frame;frame;... count`` a line) as (frames, count)."""
    for line in raw:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            yield [_LINE.sub(")", frame) for frame in stack.split(";")], int(count)


def summed(raw: Iterable[str]) -> tuple[Counter[str], dict[str, Counter[str]], dict[str, Counter[str]]]:
    """Samples by thread kind; for each kind, by function under which they fell
    (inclusive, each function once a sample) and by the function running (own)."""
    per_kind: Counter[str] = Counter()
    inclusive: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    own: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    for frames, count in samples(raw):
        kind = kind_of(frames)
        per_kind[kind] += count
        for frame in set(frames):
            inclusive[kind][frame] += count
        own[kind][frames[-1]] += count
    return per_kind, inclusive, own


def report(raw: Iterable[str], top: int) -> str:
    per_kind, inclusive, own = summed(raw)
    ours = sum(per_kind[kind] for kind in ("loop", "pool", "dispatcher", "log writer"))
    lines = [
        f"samples: runstrong {ours}, reference {per_kind['reference']}, "
        f"runstrong's start-up and lifespan {per_kind['lifespan']}, other {per_kind['other']}"
    ]
    if ours:
        shares = ", ".join(
            f"{kind} {100 * per_kind[kind] / ours:.0f} %" for kind in ("loop", "pool", "dispatcher", "log writer")
        )
        lines.append(f"runstrong's samples by thread: {shares}")
    for kind in ("loop", "pool"):
        total = per_kind[kind]
        if not total:
            continue
        lines.append(f"\n{kind} ({total} samples), inclusive:")
        lines += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in inclusive[kind].most_common(top)]
        lines.append(f"{kind}, own:")
        lines += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in own[kind].most_common(top // 2)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--route", choices=ROUTE_NAMES, required=True)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=250, help="samples a second (py-spy's --rate)")
    parser.add_argument("--all-samples", action="store_true", help="every running thread, not only the GIL's")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw output here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        raw = args.raw or Path(folder) / "sampled.raw"
        command = [str(BIN / "py-spy"), "record", "--rate", str(args.rate), "--format", "raw", "--output", str(raw)]
        if not args.all_samples:
            command.append("--gil")
        run = [str(BIN / "python"), "bench/inprocess.py", "--only", args.only, "--routes", args.route]
        subprocess.run([*command, "--", *run, "--requests", str(args.requests)], cwd=ROOT, check=True)
        with raw.open(encoding="utf-8") as lines:
            print(report(lines, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
