"""The committed contract matches the app, and reads well for generated clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.cli import render_openapi

ROOT = Path(__file__).resolve().parents[1]


def schema() -> dict[str, Any]:
    return json.loads(render_openapi())  # type: ignore[no-any-return]


def test_committed_openapi_json_matches_the_app() -> None:
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert committed == render_openapi(), "openapi.json is stale: run `runstrong openapi` (make openapi)"


def test_operations_have_stable_ids_tags_and_documented_errors() -> None:
    ids = []
    for path, item in schema()["paths"].items():
        for method, op in item.items():
            ids.append(op["operationId"])
            assert op["operationId"].replace("_", "").isalpha(), op["operationId"]
            assert op.get("tags"), f"{method} {path} has no tag"
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (path, status)
            if path.startswith("/v1/") and "{slug}" in path:
                assert "404" in op["responses"]
    assert len(ids) == len(set(ids))
    assert "list_exercises" in ids and "get_exercise" in ids


def test_every_field_is_described() -> None:
    undescribed = [
        f"{name}.{field}"
        for name, component in schema()["components"]["schemas"].items()
        for field, spec in component.get("properties", {}).items()
        if "description" not in spec and "$ref" not in spec
    ]
    assert undescribed == []
