"""CPU per chart: the SVG of a load report and of a progress report, drawn in this process.

Run it from the repository root with ``.venv/bin/python bench/charts.py [--charts 20]``.

``GET .../load.svg`` and ``.../progress.svg`` spend nearly all their time in matplotlib, so
the figure that matters is the CPU one chart takes (``time.process_time``), for a report of
12 weeks (a typical range) and one of 52 (a year, the longest a report spans).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.analytics import charts
from app.analytics import schemas as s

MONDAY = dt.date(2026, 1, 5)


def load_report(weeks: int) -> s.LoadReport:
    return s.LoadReport.model_validate(
        {
            "first_day": MONDAY,
            "last_day": MONDAY + dt.timedelta(weeks=weeks, days=-1),
            "threshold_pct": 10,
            "notes": [],
            "sources": [],
            "weeks": [
                {
                    "week_start": MONDAY + dt.timedelta(weeks=n),
                    "running_km": 20.0 + n,
                    "running_seconds": 7200 + 300 * n,
                    "running_minutes": 120.0 + 5 * n,
                    "runs": 3,
                    "workouts": 2,
                    "strength_sets": {"calves": 12},
                    "load": 300.0 + 40 * n,
                    "monotony": 1.2,
                    "strain": 400.0,
                    "distance_change_pct": 5.0,
                    "distance_warning": n % 5 == 3,
                    "acwr": 0.9 + 0.03 * (n % 7) if n >= 3 else None,
                    "acwr_flag": None,
                    "acwr_band": None,
                    "acwr_note": None,
                    "previous_running_km": 19.0 + n,
                    "return_from_zero": False,
                    "sessions_without_rpe": 0,
                    "warnings": [],
                }
                for n in range(weeks)
            ],
        }
    )


def progress_report(weeks: int) -> s.ProgressReport:
    return s.ProgressReport.model_validate(
        {
            "exercise": "single-leg-calf-raise-bent-knee",
            "sessions": [
                {
                    "day": MONDAY + dt.timedelta(days=3 * n),
                    "workout_id": f"w{n}",
                    "sets": 3,
                    "volume_kg": 900.0,
                    "best_set": "40 kg x 8",
                    "e1rm_epley": 100.0 + 2 * n,
                    "e1rm_brzycki": 98.0 + 2 * n,
                }
                for n in range(weeks * 2)
            ],
            "pain": {
                site: [
                    {
                        "week_start": MONDAY + dt.timedelta(weeks=n),
                        "mean_pain": 3 - 0.05 * n,
                        "mean_stiffness": 2.0,
                        "rising": False,
                    }
                    for n in range(weeks)
                ]
                for site in ("achilles-left", "achilles-right")
            },
            "adherence": {"planned": 10, "completed": 8, "rate": 0.8},
            "notes": [],
        }
    )


def per_chart_ms(draw: Callable[[], bytes], count: int) -> float:
    draw()  # the first chart of a process loads fonts
    started = time.process_time()
    for _ in range(count):
        draw()
    return (time.process_time() - started) * 1000 / count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--charts", type=int, default=20, help="charts drawn per case (default 20)")
    args = parser.parse_args(argv)
    for weeks in (12, 52):
        load, progress = load_report(weeks), progress_report(weeks)
        load_ms = per_chart_ms(partial(charts.load_chart, load), args.charts)
        progress_ms = per_chart_ms(partial(charts.progress_chart, progress), args.charts)
        print(f"{weeks:>2} weeks  load.svg {load_ms:6.1f} ms  progress.svg {progress_ms:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
