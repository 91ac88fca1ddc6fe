"""Liveness and readiness probes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.core.db import get_session, get_write_session
from app.core.errors import problem_response, problem_responses

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok` while the process serves requests.")


class Readiness(BaseModel):
    status: Literal["ready"] = Field(description="`ready` when the database answers and its schema is at head.")
    database: str = Field(description="The database backend.", examples=["postgresql"])
    revision: str = Field(description="The migration the database is at (the head).", examples=["20261121_0001"])


def alembic_config(database_url: str | None = None) -> Config:
    from alembic.config import Config  # alembic loads on the first readiness probe, not at start-up

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@lru_cache
def head_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


@router.get("/healthz", summary="Liveness probe")
async def healthz() -> Health:
    """Answers while the process is alive; touches nothing else."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness probe",
    responses=problem_responses(503),
    response_model=Readiness,
)
def readyz(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    writer: Annotated[Session, Depends(get_write_session)],
) -> Readiness | JSONResponse:
    """Ready when the database (and the catalogue's read replica, if one is set) answers,
    its migrations are at head and it takes writes; otherwise 503."""
    current, problem = schema_state(session)
    if problem is None:
        problem = write_state(writer)
    replica = request.app.state.catalogue_engine
    if problem is None and replica is not request.app.state.engine:
        with Session(replica) as replica_session:
            _, replica_problem = schema_state(replica_session)
        if replica_problem is not None:
            problem = f"the catalogue replica: {replica_problem}"
    if problem is not None:
        return problem_response(request, 503, f"Not ready: {problem}.", slug="not-ready")
    return Readiness(status="ready", database=session.get_bind().dialect.name, revision=",".join(sorted(current)))


def schema_state(session: Session) -> tuple[frozenset[str], str | None]:
    """The migrations the database is at, and what keeps it from being ready (or None)."""
    try:
        rows = session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError as exc:
        session.rollback()
        reason = "the database is unreachable" if "alembic_version" not in str(exc) else "no migrations have run"
        return frozenset(), reason
    current = frozenset(rows)
    heads = head_revisions()
    if current != heads:
        return current, f"migrations are at {sorted(current) or 'base'}, head is {sorted(heads)}"
    return current, None


def write_state(session: Session) -> str | None:
    """What keeps writes from succeeding, or None. SQLite: a write, rolled back (it fails on
    a read-only file, or one locked past the busy timeout). PostgreSQL: whether the session
    is read-only (a standby, or a database set read-only); no lock is taken, so a running
    migration does not make every server unready."""
    try:
        if session.get_bind().dialect.name == "postgresql":
            if session.execute(text("SHOW transaction_read_only")).scalar_one() == "on":
                return "the database is read-only"
        else:
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).splitlines()[0][:120]
        return f"writes fail ({cause})"
    finally:
        session.rollback()
    return None
