"""CPU per request with no server and no network: runstrong (production settings) and the
plain reference app driven as ASGI apps in this process, route by route, on one database.

Run it from the repository root with ``.venv/bin/python bench/inprocess.py [--only sqlite]
[--routes record,page] [--requests 400] [--profile record]``.

wrk against a server (bench/versus.py) measures what a client sees, but on a shared
2-core machine its figures move with whatever else runs. CPU time spent by one process
on a fixed number of requests moves much less, and it is what the fixed per-request
cost is made of: this script sets up the same world as versus.py (through runstrong's
API on a live server, then the bulk load), stops the server, builds both apps in this
process and sends each route ``--requests`` times, one at a time, through a minimal ASGI
driver (the same headers wrk sends), after a warm-up. Reported: CPU microseconds per
request (``time.process_time``; the process's threads included, so the thread-pool hops
count) for each app and their ratio. ``--profile ROUTE`` prints cProfile's top functions
(cumulative and own time) for runstrong on that route. The access line is written to
/dev/null, as a line a server writes to a pipe costs about the same.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging.config
import os
import pstats
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from catalogue import HOST, machine  # noqa: E402
from edge import SECRET  # noqa: E402
from versus import ROUTE_NAMES, WORLD_OTHER_WORKOUTS, Route, World, runstrong_env, worlds  # noqa: E402

ASGI = Any


async def call(app: ASGI, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    """One request through ``app``; its status and body."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": (HOST, 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def request_of(world: World, route: Route) -> tuple[list[tuple[bytes, bytes]], bytes]:
    token = world.writer_token if route.name == "write" else world.reader_token
    headers = [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())]
    body = b""
    if route.method == "POST":
        body = (world.workout_file if route.name == "write" else world.preview_file).read_bytes()
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return headers, body


async def per_request_us(app: ASGI, world: World, route: Route, count: int) -> float:
    headers, body = request_of(world, route)
    expected = 201 if route.name == "write" else 200

    async def once() -> None:
        extra = [(b"idempotency-key", uuid.uuid4().hex.encode())] if route.name == "write" else []
        status, answer = await call(app, route.method, route.path, headers + extra, body)
        if status != expected:
            raise SystemExit(f"{route.name}: {status} {answer[:300]!r}")

    for _ in range(max(20, count // 10)):  # warm-up: caches, pools, first-call imports
        await once()
    started = time.process_time()
    for _ in range(count):
        await once()
    return (time.process_time() - started) * 1e6 / count


class Lifespan:
    """Start and stop an ASGI app's lifespan (the engine, the reference's connection)."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        if message["type"] != "lifespan.startup.complete":
            raise SystemExit(f"start-up failed: {message}")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.outbox.get()
        assert self.task is not None
        await self.task


def apps(url: str) -> tuple[ASGI, ASGI]:
    """runstrong as ``runstrong serve`` configures it in production, and the reference app."""
    os.environ.update(runstrong_env(url, 0))
    os.environ.update({"REFERENCE_DATABASE_URL": url, "REFERENCE_SECRET_KEY": SECRET})
    from reference_app import create_app as create_reference

    from app.core.config import get_settings
    from app.core.observability import logging_config
    from app.main import create_app

    get_settings.cache_clear()
    settings = get_settings()
    config = logging_config(settings)
    config["handlers"]["stdout"]["stream"] = open(os.devnull, "w")  # noqa: SIM115 (lives with the process)
    logging.config.dictConfig(config)
    return create_app(settings), create_reference()


async def measure_backend(
    url: str, world: World, names: Sequence[str], count: int, profile: str | None
) -> dict[str, Any]:
    runstrong, reference = apps(url)
    results: dict[str, Any] = {}
    async with Lifespan(runstrong), Lifespan(reference):
        for name in names:
            route = world.routes[name]
            ours = await per_request_us(runstrong, world, route, count)
            theirs = await per_request_us(reference, world, route, count)
            results[name] = {
                "runstrong_us": round(ours),
                "reference_us": round(theirs),
                "ratio": round(theirs / ours, 3),
            }
            print(f"  {name:<10} runstrong {ours:8.0f} us  reference {theirs:8.0f} us  ratio {theirs / ours:.3f}")
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await per_request_us(runstrong, world, world.routes[profile], count)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
            print(out.getvalue())
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--routes", default=",".join(ROUTE_NAMES))
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", choices=ROUTE_NAMES)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    names = [n for n in args.routes.split(",") if n]
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    report: dict[str, Any] = {
        "machine": machine(),
        "requests": args.requests,
        "other_workouts": WORLD_OTHER_WORKOUTS,
        "results": {},
    }
    for backend, url, world in worlds(backends):
        print(f"[{backend}] CPU per request, {args.requests} requests each")
        report["results"][backend] = asyncio.run(measure_backend(url, world, names, args.requests, args.profile))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
