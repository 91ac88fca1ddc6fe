"""The ``runstrong`` command: serve, migrate, seed, openapi."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="runstrong: strength training for runners, as a JSON API.", no_args_is_help=True)

DEFAULT_OPENAPI = Path(__file__).resolve().parents[1] / "openapi.json"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )


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
