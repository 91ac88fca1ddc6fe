"""One service function, an earlier commit's code against this tree's, in one process.

Run it from the repository root with ``.venv/bin/python bench/ab.py --base <commit>
[--only sqlite] [--probes plan,load] [--rounds 6] [--calls 100]``.

On a shared 2-core machine the same code's CPU per request moves by half within minutes,
so a change worth 10-30 % to one function drowns in the noise of runs made minutes apart
(versus.py, inprocess.py). Here both versions run in the same process, alternately, on
the same database: the world versus.py builds (a reader with 200 workouts of 5 sets, runs,
check-ins and a 17-week Achilles plan with linked workouts). For each probe, the module it
calls is loaded twice: as this tree has it, and from ``git show <base>:<path>`` as a
module of its own; both must give equal answers before they are timed. Reported: CPU
microseconds per call (``time.process_time``, a session opened and closed per call) over
``--rounds`` alternating rounds, and the median ratio old/new (above 1: the tree is
faster). Only modules whose earlier version imports cleanly beside the current tree can
be compared (a probe whose module did not exist at ``base`` is skipped).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import ROOT, machine, write_results  # noqa: E402
from versus import WORLD_OTHER_WORKOUTS, World, runstrong_env, worlds  # noqa: E402


@dataclass(frozen=True)
class Context:
    """Ids in the world the probes read."""

    athlete: uuid.UUID
    plan: uuid.UUID
    planned_session: uuid.UUID
    workouts: list[uuid.UUID]


@dataclass(frozen=True)
class Probe:
    module: str  # dotted name; its file is <module as a path>.py
    call: Callable[[ModuleType, Any, Context], Any]
    doc: str


def _page(limit: int = 20) -> Any:
    from app.core.pagination import PageParams

    return PageParams(limit=limit, offset=0)


PROBES: dict[str, Probe] = {
    "plan": Probe("app.plans.service", lambda m, s, c: m.get_plan(s, c.athlete, c.plan), "a plan read"),
    "plans": Probe(
        "app.plans.service", lambda m, s, c: m.list_plans(s, c.athlete, None, _page()), "the plan list, first page"
    ),
    "linked": Probe(
        "app.plans.service",
        lambda m, s, c: m.on_workout_logged(s, c.athlete, c.planned_session),
        "the plan step of a workout linked to a session of the plan's last week",
    ),
    "load": Probe(
        "app.analytics.service", lambda m, s, c: m.load(s, c.athlete, None, None, 10.0), "the load report, 12 weeks"
    ),
    "progress": Probe(
        "app.analytics.service",
        lambda m, s, c: m.progress(s, c.athlete, "squat", None, None),
        "the progress report for one exercise, 26 weeks",
    ),
    "sets": Probe("app.training.service", lambda m, s, c: m._sets_of(s, c.workouts[:20]), "twenty workouts' sets"),
    "exercises": Probe(
        "app.catalogue.service",
        lambda m, s, c: m.list_exercises(s, _page(), m.ExerciseFilters()),
        "the exercise list, first page of 20, unfiltered",
    ),
}


def load_old(module: str, base: str) -> ModuleType | None:
    """``module`` as it was at ``base``, loaded beside the current one (None if absent)."""
    path = module.replace(".", "/") + ".py"
    shown = subprocess.run(["git", "show", f"{base}:{path}"], cwd=ROOT, capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        return None
    folder = Path(tempfile.mkdtemp(prefix="ab-"))
    name = f"_ab_{base[:12]}_{module.replace('.', '_')}"
    (folder / f"{name}.py").write_text(shown.stdout, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {module} as it was at {base}")
    old = importlib.util.module_from_spec(spec)
    sys.modules[name] = old  # dataclasses look their module up while being made
    spec.loader.exec_module(old)
    return old


def comparable(value: Any) -> Any:
    """An answer as plain data, so the two versions' answers compare by content."""
    if hasattr(value, "model_dump_json"):
        return json.loads(value.model_dump_json())
    if isinstance(value, tuple | list):
        return [comparable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): comparable(v) for k, v in value.items()}
    return value


def context_of(engine: Any, world: World) -> Context:
    import sqlalchemy as sa

    from app.core.db import table_of
    from app.plans.models import Plan, PlanSession
    from app.training.models import Workout

    plan_id = uuid.UUID(world.plan_id)
    plan, planned, workout = table_of(Plan), table_of(PlanSession), table_of(Workout)
    with engine.connect() as conn:
        athlete = conn.execute(sa.select(plan.c.athlete_id).where(plan.c.id == plan_id)).scalar_one()
        last = conn.execute(
            sa.select(planned.c.id).where(planned.c.plan_id == plan_id).order_by(planned.c.week.desc()).limit(1)
        ).scalar_one()
        ids = list(
            conn.execute(
                sa.select(workout.c.id).where(workout.c.athlete_id == athlete).order_by(workout.c.started_at.desc())
            ).scalars()
        )
    return Context(athlete, plan_id, last, ids)


def measure(url: str, world: World, names: Sequence[str], base: str, rounds: int, calls: int) -> Any:
    os.environ.update(runstrong_env(url, 0))
    from sqlmodel import Session

    import app.models  # noqa: F401 (every table, for the relationships)
    from app.core.config import get_settings
    from app.core.db import build_engine

    get_settings.cache_clear()
    engine = build_engine(get_settings())
    context = context_of(engine, world)
    olds: dict[str, ModuleType | None] = {}
    results: dict[str, Any] = {}
    for name in names:
        probe = PROBES[name]
        if probe.module not in olds:
            olds[probe.module] = load_old(probe.module, base)
        old, new = olds[probe.module], importlib.import_module(probe.module)
        if old is None:
            print(f"  {name:<10} skipped: {probe.module} is not in {base}")
            continue

        def run(module: ModuleType, probe: Probe = probe) -> Any:
            with Session(engine) as session:
                return probe.call(module, session, context)

        if comparable(run(old)) != comparable(run(new)):
            raise SystemExit(f"{name}: the two versions answer differently")
        timings: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(rounds):
            for label, module in (("old", old), ("new", new)):
                started = time.process_time()
                for _ in range(calls):
                    run(module)
                timings[label].append((time.process_time() - started) * 1e6 / calls)
        ratio = statistics.median(timings["old"]) / statistics.median(timings["new"])
        results[name] = {
            "doc": probe.doc,
            "old_us": [round(t) for t in timings["old"]],
            "new_us": [round(t) for t in timings["new"]],
            "median_ratio_old_new": round(ratio, 2),
        }
        print(
            f"  {name:<10} old {statistics.median(timings['old']):8.0f} us  "
            f"new {statistics.median(timings['new']):8.0f} us  old/new {ratio:.2f}"
        )
    engine.dispose()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the earlier commit")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--probes", default=",".join(PROBES), help=f"from: {', '.join(PROBES)}")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=100, help="calls per version per round")
    args = parser.parse_args(argv)
    names = [n for n in args.probes.split(",") if n]
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        parser.error(f"unknown probes: {', '.join(unknown)}")
    base = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    report: dict[str, Any] = {
        "machine": machine(),
        "base": base,
        "rounds": args.rounds,
        "calls": args.calls,
        "other_workouts": WORLD_OTHER_WORKOUTS,
    }
    report["results"] = {}
    for backend, url, world in worlds([args.only] if args.only else ["sqlite", "postgresql"]):
        print(f"[{backend}] CPU per call, {base} (old) against this tree (new)")
        report["results"][backend] = measure(url, world, names, base, args.rounds, args.calls)
    print(f"wrote {write_results('ab', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
