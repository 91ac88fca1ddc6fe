"""Seeding makes the catalogue tables match the data files, and is idempotent."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from sqlmodel import Session, func, select

from app.catalogue import models as m
from app.catalogue.content import DATA_DIR
from app.catalogue.seed import seed
from app.core.config import Settings
from app.core.db import build_engine
from tests.conftest import make_database, migrate


def test_seed_twice_changes_nothing_and_a_refresh_applies_edits(backend: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    for url in make_database(backend, tmp_path):
        migrate(url)
        engine = build_engine(Settings(database_url=url))
        try:
            first = seed(engine, data)
            assert first.changed and first.counts["exercise"]["inserted"] >= 70
            second = seed(engine, data)
            assert not second.changed and second.version == first.version

            path = data / "exercises" / "trunk-upper.yaml"
            records = yaml.safe_load(path.read_text())
            removed = records.pop()["slug"]
            records[0]["name"] = "Renamed exercise"
            path.write_text(yaml.safe_dump(records, sort_keys=False))
            injury_file = data / "injuries.yaml"
            injuries = yaml.safe_load(injury_file.read_text())
            for injury in injuries:
                injury["exercises"] = [x for x in injury.get("exercises", []) if x != removed]
            injury_file.write_text(yaml.safe_dump(injuries, sort_keys=False))
            progressions = yaml.safe_load((data / "progressions.yaml").read_text())
            kept = [e for e in progressions if removed not in (e["easier"], e["harder"])]
            (data / "progressions.yaml").write_text(yaml.safe_dump(kept, sort_keys=False))

            third = seed(engine, data)
            assert third.changed and third.version != first.version
            assert third.counts["exercise"] == {"inserted": 0, "updated": 1, "deleted": 1}
            with Session(engine) as session:
                assert session.get(m.Exercise, removed) is None
                assert (
                    session.exec(
                        select(func.count())
                        .select_from(m.ExerciseMuscle)
                        .where(m.ExerciseMuscle.exercise_slug == removed)
                    ).one()
                    == 0
                )
                assert session.get(m.Exercise, records[0]["slug"]).name == "Renamed exercise"  # type: ignore[union-attr]
        finally:
            engine.dispose()
