"""Plan engine benchmark: a 12-week plan generated in-process, and through the API.

1. in-process: `generate()` for each plan kind, timed over many runs (median and p99);
   target under 5 ms per plan.
2. through the API: wrk POSTs /v1/plans/preview (no account needed) to one uvicorn worker.

Run: .venv/bin/python bench/plans.py [--duration 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import ROOT, BenchError, machine, parse_wrk, prepare_database, serving, write_results  # noqa: E402

from app.catalogue.content import load_catalogue  # noqa: E402
from app.plans.engine import PlanKind, PlanOptions, PlanProfile, generate  # noqa: E402
from app.plans.engine.model import ProtocolChoice  # noqa: E402

PROFILES: dict[str, tuple[PlanKind, dict[str, Any]]] = {
    "resilience, gym, race in 12 weeks": (
        PlanKind.resilience,
        {
            "equipment": ["barbell", "dumbbell", "bench", "resistance-band"],
            "strength_sessions_per_week": 3,
            "race_date": "2027-02-15",
            "minutes_per_session": 45,
        },
    ),
    "achilles, heavy slow resistance": (
        PlanKind.achilles,
        {
            "achilles_pain": 3,
            "equipment": ["seated-calf-raise-machine", "leg-press-machine", "standing-calf-raise-machine"],
        },
    ),
    "achilles, Silbernagel, insertional, pain 7": (
        PlanKind.achilles,
        {
            "achilles_pain": 7,
            "achilles_pain_site": "insertional",
            "single_leg_heel_raises": 5,
            "equipment": ["step", "chair"],
        },
    ),
    "return to run": (
        PlanKind.return_to_run,
        {"single_leg_heel_raises": 30, "achilles_pain": 1, "weekly_distance_km": 40},
    ),
    "return to run from phase 2, 30 km a week": (
        PlanKind.return_to_run,
        {"single_leg_heel_raises": 12, "achilles_pain": 4, "weekly_distance_km": 30, "equipment": ["step"]},
    ),
}
OPTIONS: dict[str, PlanOptions] = {"achilles, Alfredson without a step": PlanOptions(protocol=ProtocolChoice.alfredson)}
PROFILES["achilles, Alfredson without a step"] = (PlanKind.achilles, {"achilles_pain": 4})
START = dt.date(2026, 11, 23)


def in_process(runs: int) -> list[dict[str, Any]]:
    catalogue = load_catalogue()
    rows = []
    for label, (kind, fields) in PROFILES.items():
        profile = PlanProfile.model_validate(fields)
        options = OPTIONS.get(label, PlanOptions())
        for _ in range(20):
            generate(profile, catalogue, START, kind, options)
        times, cpu = [], []
        for _ in range(runs):
            started, used = time.perf_counter(), time.process_time()
            plan = generate(profile, catalogue, START, kind, options)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)
        times.sort()
        rows.append(
            {
                "plan": label,
                "weeks": len(plan.weeks),
                "median_ms": statistics.median(times),
                "p99_ms": times[int(len(times) * 0.99) - 1],
                # CPU time: on a shared machine the wall clock also counts waiting for a core.
                "median_cpu_ms": statistics.median(cpu),
            }
        )
    return rows


def through_api(duration_s: int, tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'plans-bench.db'}", "PYTHONUNBUFFERED": "1"}
    prepare_database(env)
    kind, fields = PROFILES["achilles, heavy slow resistance"]
    body = tmp / "preview.json"
    body.write_text(
        json.dumps({"kind": kind.value, "profile": fields, "start_date": START.isoformat()}), encoding="utf-8"
    )
    with serving("runstrong-plans", ["app.main:create_app", "--factory"], env, tmp) as server:
        import subprocess

        url = f"http://127.0.0.1:{server.port}/v1/plans/preview"
        wrk_env = {**os.environ, "BODY_FILE": str(body)}
        argv = ["wrk", "-t1", "-c8", f"-d{duration_s}s", "--latency", "-s", str(ROOT / "bench" / "post_json.lua"), url]
        subprocess.run([*argv[:3], "-d2s", *argv[4:]], env=wrk_env, capture_output=True, check=True, timeout=60)
        done = subprocess.run(argv, env=wrk_env, capture_output=True, text=True, timeout=duration_s + 60, check=False)
        if done.returncode != 0:
            raise BenchError(done.stderr)
        result = parse_wrk(done.stdout)
    return {
        "endpoint": "POST /v1/plans/preview (12-week HSR plan)",
        "connections": 8,
        "requests_per_s": result.requests_per_s,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "failed": result.non_2xx_3xx + sum(result.socket_errors.values()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of the API run (0: in-process only)")
    parser.add_argument("--runs", type=int, default=500, help="in-process runs per plan")
    args = parser.parse_args(argv)
    rows = in_process(args.runs)
    print("| plan | weeks | median ms | p99 ms | median CPU ms | under 5 ms |\n|---|---:|---:|---:|---:|:---:|")
    for r in rows:
        verdict = "yes" if r["median_cpu_ms"] < 5 else "no"
        print(
            f"| {r['plan']} | {r['weeks']} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['median_cpu_ms']:.2f} "
            f"| {verdict} |"
        )
    api: dict[str, Any] = {}
    if args.duration > 0:
        with tempfile.TemporaryDirectory(prefix="runstrong-plans-bench-") as tmp:
            api = through_api(args.duration, Path(tmp))
    if api:
        print(
            f"\n{api['endpoint']}: {api['requests_per_s']:.0f} req/s, p50 {api['p50_ms']:.2f} ms, "
            f"p99 {api['p99_ms']:.2f} ms, failed {api['failed']} (8 connections, one worker)"
        )
    target = write_results("plans", {"machine": machine(), "in_process": rows, "api": api})
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
