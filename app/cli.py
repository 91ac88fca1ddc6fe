"""The ``runstrong`` command: serve, worker, migrate, seed, openapi."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

app = typer.Typer(help="runstrong: strength training for runners, as a JSON API.", no_args_is_help=True)

DEFAULT_OPENAPI = Path(__file__).resolve().parents[1] / "openapi.json"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: WEB_CONCURRENCY or 1).")
    ] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    http: Annotated[
        Literal["httptools", "h11"], typer.Option(help="HTTP/1.1 parser; both bound a request's head.")
    ] = "httptools",
) -> None:
    """Serve the API with uvicorn: JSON logs, graceful shutdown, metrics shared by workers
    (on their own port when RUNSTRONG_METRICS_PORT is set), bounded request heads."""
    import uvicorn

    from app.core.config import get_settings
    from app.core.observability import logging_config

    settings = get_settings()
    workers = workers or settings.workers
    if workers > 1 and settings.metrics_enabled:
        share_metrics_between_workers()
    if settings.metrics_enabled and settings.metrics_port is not None:
        from app.core.observability import start_metrics_server

        start_metrics_server(host, settings.metrics_port)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_config=logging_config(settings),
        log_level=settings.log_level,
        access_log=False,  # the service writes its own access line, with the request id
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        limit_concurrency=settings.max_concurrency,
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=settings.graceful_shutdown_s,
        server_header=False,  # no "server: uvicorn" on every response
        # The server bounds what it buffers of a request's head (h11 by itself, httptools through
        # BoundedHttpToolsProtocol); the edge answers 431 to heads over RUNSTRONG_MAX_HEADER_BYTES,
        # the server cuts at four times that.
        http="app.core.http_parser:BoundedHttpToolsProtocol" if http == "httptools" else "h11",
        h11_max_incomplete_event_size=settings.h11_max_head_bytes,
    )


def share_metrics_between_workers() -> None:
    """Point prometheus_client's multiprocess mode at a folder every worker writes to
    (PROMETHEUS_MULTIPROC_DIR if set, else a new temporary one), emptied first so no
    counts of an earlier run are reported. Must run before any worker imports it."""
    import atexit
    import os
    import shutil
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        folder = tempfile.mkdtemp(prefix="runstrong-metrics-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


@app.command()
def worker() -> None:
    """Run the event dispatcher (webhook deliveries, retries) until SIGTERM or SIGINT. On
    PostgreSQL run as many as you like; on SQLite one is enough. Set RUNSTRONG_WORKER_EMBEDDED=false
    on the servers when workers deliver instead."""
    import logging.config
    import signal
    import threading

    from app.core.config import get_settings
    from app.core.db import build_engine
    from app.core.observability import logging_config
    from app.webhooks.dispatcher import Dispatcher

    settings = get_settings()
    logging.config.dictConfig(logging_config(settings))
    engine = build_engine(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    dispatcher = Dispatcher(engine, settings)
    logging.getLogger("runstrong.worker").info("dispatcher started")
    try:
        dispatcher.run(stop)
    finally:
        dispatcher.close()
        engine.dispose()


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    downgrade: Annotated[bool, typer.Option(help="Downgrade to the revision (e.g. base) instead.")] = False,
) -> None:
    """Upgrade the database schema to head (creating a SQLite file if needed)."""
    from alembic import command

    from app.core.config import get_settings
    from app.core.db import build_engine
    from app.core.health import alembic_config

    settings = get_settings()
    build_engine(settings).dispose()  # creates the SQLite folder if needed
    step = command.downgrade if downgrade else command.upgrade
    step(alembic_config(settings.database_url), revision)
    typer.echo(f"database at {revision}")


@app.command()
def seed() -> None:
    """Load or refresh the catalogue from the data files (idempotent)."""
    from app.catalogue.content import ContentError
    from app.catalogue.seed import seed as run_seed
    from app.core.config import get_settings
    from app.core.db import build_engine

    engine = build_engine(get_settings())
    try:
        report = run_seed(engine)
    except ContentError as exc:
        typer.echo(f"catalogue data is invalid: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    typer.echo(report.summary())


def render_openapi() -> str:
    from app.core.config import Settings
    from app.main import create_app

    schema = create_app(Settings(database_url="sqlite://")).openapi()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the schema.")] = DEFAULT_OPENAPI,
    check: Annotated[bool, typer.Option(help="Only check that the file is current; exit 1 if not.")] = False,
) -> None:
    """Write the OpenAPI schema (the API contract) to openapi.json."""
    text = render_openapi()
    if check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            typer.echo(f"{output} is out of date: run `runstrong openapi`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is current")
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


def main() -> None:  # pragma: no cover
    sys.exit(app())
