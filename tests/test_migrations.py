"""Migrations are the only way a schema is made: up, down and up again, and no drift."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.core.config import Settings
from app.core.db import build_engine
from tests.conftest import make_database, migrate


def test_upgrade_downgrade_upgrade_and_no_drift(backend: str, tmp_path: Path) -> None:
    for url in make_database(backend, tmp_path):
        engine = build_engine(Settings(database_url=url))
        try:
            migrate(url)
            migrate(url, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            migrate(url)
            assert "exercise" in inspect(engine).get_table_names()
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"compare_type": True, "render_as_batch": backend == "sqlite"}
                )
                assert compare_metadata(context, SQLModel.metadata) == []
        finally:
            engine.dispose()
