"""CPU per request with and without the shortcut (app/core/shortcut.py), in one process.

Run it from the repository root with ``.venv/bin/python bench/shortcut.py [--routes
record,page] [--requests 150] [--rounds 10] [--only sqlite]``.

Builds the world and the apps as bench/inprocess.py does (production settings, the access
line to /dev/null), then measures each route in interleaved rounds: once as served (the
training reads take the shortcut), once with the shortcut's check for FastAPI's telemetry
answering that it is on, which sends every request through FastAPI's own handler, as
before the shortcut. (A dependency override, the tests' way to reach that handler, also
makes FastAPI derive each dependency again on every request: 1,770 us against 820 for
a one-workout read here, so it cannot stand for the handler as deployed.) Reported per
route: the median CPU microseconds a request each way, and the median of the rounds'
ratios (shortcut / FastAPI's handler).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import machine, write_results  # noqa: E402
from inprocess import Lifespan, apps, per_request_us  # noqa: E402
from versus import World, worlds  # noqa: E402


def _telemetry_on(_context: object = None) -> object:
    return object()


async def measure(url: str, world: World, names: Sequence[str], count: int, rounds: int) -> dict[str, Any]:
    from app.core import shortcut

    runstrong, _reference = apps(url)
    results: dict[str, Any] = {}
    async with Lifespan(runstrong):
        for name in names:
            route = world.routes[name]
            samples: dict[str, list[float]] = {"shortcut": [], "fastapi": []}
            for _ in range(rounds):
                for way in samples:
                    with ExitStack() as stack:
                        if way == "fastapi":
                            stack.enter_context(mock.patch.object(shortcut, "get_telemetry_data", _telemetry_on))
                        samples[way].append(await per_request_us(runstrong, world, route, count))
            ratios = [s / f for s, f in zip(samples["shortcut"], samples["fastapi"], strict=True)]
            results[name] = {
                "cpu_us": {way: [round(v) for v in values] for way, values in samples.items()},
                "median_us": {way: round(statistics.median(values)) for way, values in samples.items()},
                "median_ratio": round(statistics.median(ratios), 3),
            }
            medians = results[name]["median_us"]
            print(
                f"  {name:<8} shortcut {medians['shortcut']} us, FastAPI's handler {medians['fastapi']} us, "
                f"ratio per round median {results[name]['median_ratio']}"
            )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", default="record,page")
    parser.add_argument("--requests", type=int, default=150, help="requests per measurement (150)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.routes.split(",") if n.strip()]
    report: dict[str, Any] = {"machine": machine(), "requests": args.requests, "rounds": args.rounds}
    for backend, url, world in worlds([args.only]):
        print(f"[{backend}] CPU per request, {args.requests} requests x {args.rounds} interleaved rounds")
        report[backend] = asyncio.run(measure(url, world, names, args.requests, args.rounds))
    print(f"wrote {write_results('shortcut', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
