"""The conventions of the contract (README, "API conventions"), held by walking openapi.json:
names and formats of units and times, one component per enum, typed inputs, non-JSON media
types, read models writable back, and declared security that matches the server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.cli import render_openapi
from app.core.contract import PROBLEM_COMPONENTS
from tests.conftest import Athlete, register


class _Contract:
    """The generated document and what is derived from it, built on first use: only the
    test worker that runs these tests pays for rendering it (1.3 s of CPU)."""

    @cached_property
    def spec(self) -> dict[str, Any]:
        return dict(json.loads(render_openapi()))

    @cached_property
    def components(self) -> dict[str, Any]:
        return dict(self.spec["components"]["schemas"])

    @cached_property
    def inputs(self) -> set[str]:
        return _closure(
            (r for _, _, op in _operations() for r in _refs(op.get("requestBody", {}), skip_read_only=True)),
            skip_read_only=True,
        )

    @cached_property
    def outputs(self) -> set[str]:
        return _closure(
            (
                r
                for _, _, op in _operations()
                for status, response in op["responses"].items()
                if status.startswith("2")
                for r in _refs(response, skip_read_only=False)
            ),
            skip_read_only=False,
        )


CONTRACT = _Contract()
REF = "#/components/schemas/"

# Unit suffixes: spelled out for time (`_seconds`, `_days`, `_weeks`), SI symbols otherwise.
UNIT_SUFFIXES = ("_seconds", "_days", "_weeks", "_km", "_kg", "_cm", "_pct")
UNIT_WORDS = re.compile(r"_(s|sec|secs|seconds|min|mins|minutes|hours|days|weeks|km|m|kg|lb|cm|pct|percent)(_|$)")
TIME_ABBREVIATIONS = re.compile(r"_(s|sec|secs|min|mins|h|hr|hrs)(_|$)")  # time is spelled out, anywhere in a name
RATE_NAMES = re.compile(r"^[a-z_]+_per_(week|session|km)$")  # counts per unit of time or distance


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in CONTRACT.spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}/{i}")


def _refs(node: Any, *, skip_read_only: bool) -> Iterator[str]:
    for _, found in _walk(node, ""):
        if skip_read_only and found.get("readOnly"):
            continue
        ref = found.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            yield ref[len(REF) :]


def _closure(names: Iterator[str], *, skip_read_only: bool) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(
                _refs(
                    _without_read_only(CONTRACT.components[name]) if skip_read_only else CONTRACT.components[name],
                    skip_read_only=skip_read_only,
                )
            )
    return seen


def _without_read_only(component: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in component.get("properties", {}).items() if not v.get("readOnly")}
    return {**component, "properties": properties}


def _properties() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, component in CONTRACT.components.items():
        for field, spec in component.get("properties", {}).items():
            yield name, field, spec


def _formats(spec: dict[str, Any]) -> set[str | None]:
    options = spec.get("anyOf", [spec])
    return {o.get("format") for o in options if o.get("type") != "null"}


def _off_convention(field: str) -> bool:
    return bool(TIME_ABBREVIATIONS.search(field)) or bool(
        UNIT_WORDS.search(field)
        and not field.endswith(UNIT_SUFFIXES)
        and not RATE_NAMES.match(field)
        and field != "expires_in"  # OAuth 2 (RFC 6749) names it; seconds
    )


def test_unit_names_carry_their_unit_as_a_suffix() -> None:
    """No exception: an older name still on the wire is marked deprecated and has its
    conventional name beside it, in the same component."""
    wrong = [
        f"{name}.{field}"
        for name, field, spec in _properties()
        if _off_convention(field) and not spec.get("deprecated")
    ]
    assert wrong == []
    old = {(name, field) for name, field, spec in _properties() if _off_convention(field)}
    renamed = {
        ("WorkoutPublic", "duration_minutes"): "duration_seconds",
        ("RunPublic", "duration_s"): "duration_seconds",
        ("RunPublic", "pace_s_per_km"): "pace_seconds_per_km",
        ("WeekLoad", "running_minutes"): "running_seconds",
    }
    assert set(renamed) <= old
    components = CONTRACT.components
    for (name, field), new in renamed.items():
        assert new in components[name]["properties"] and new in components[name].get("required", []), (name, field)
    lonely = [f"{n}.{f}" for n, f in old if not any(k in components[n]["properties"] for k in _conventional(f))]
    assert lonely == []


def _conventional(field: str) -> list[str]:
    spelled = field.replace("_minutes", "_seconds").replace("_s_per_", "_seconds_per_")
    return [spelled, re.sub(r"_s$", "_seconds", spelled)]


def test_times_are_date_time_and_days_are_date() -> None:
    wrong = []
    for name, field, spec in _properties():
        if field.endswith("_at"):
            expected = "date-time"
        elif field in ("date", "day", "start_date", "starts_on", "race_date") or field.endswith("_date"):
            expected = "date"
        else:
            continue
        if _formats(spec) != {expected}:
            wrong.append(f"{name}.{field}: {_formats(spec)}")
    assert wrong == []


def test_each_enum_is_one_component() -> None:
    seen: dict[frozenset[str], list[str]] = {}
    for where, node in _walk(CONTRACT.spec, ""):
        values = node.get("enum")
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            seen.setdefault(frozenset(values), []).append(where)
    duplicated = {tuple(sorted(k)): v for k, v in seen.items() if len(v) > 1}
    assert duplicated == {}
    plan_profile = CONTRACT.components["PlanProfile"]["properties"]
    assert plan_profile["experience"]["$ref"] == REF + "Experience" and plan_profile["goal"]["$ref"] == REF + "Goal"
    assert "PlanProfileExperience" not in CONTRACT.components


def test_inputs_hold_no_untyped_open_object() -> None:
    open_objects = []
    for name in sorted(CONTRACT.inputs):
        for where, node in _walk(_without_read_only(CONTRACT.components[name]), name):
            if node.get("additionalProperties") in (True, {}) or (
                node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node
            ):
                open_objects.append(where)
    assert open_objects == []
    assert CONTRACT.components["PlanCreate"]["properties"]["profile_overrides"]["$ref"] == REF + "PlanProfileOverrides"
    assert CONTRACT.components["PlanProfileOverrides"]["additionalProperties"] is False


def test_change_records_are_typed_by_their_entity() -> None:
    changes = CONTRACT.components["ChangeFeed"]["properties"]["changes"]["items"]
    mapping = changes["discriminator"]["mapping"]
    assert changes["discriminator"]["propertyName"] == "entity" and set(mapping) == {
        "workout",
        "run",
        "checkin",
        "test",
    }
    records = {CONTRACT.components[m[len(REF) :]]["properties"]["record"]["anyOf"][0]["$ref"] for m in mapping.values()}
    assert records == {REF + n for n in ("WorkoutPublic", "RunPublic", "CheckInPublic", "ClinicalTestPublic")}


def test_files_declare_only_their_own_media_type() -> None:
    media = {".svg": "image/svg+xml", ".ics": "text/calendar", ".csv": "text/csv"}
    files = [(path, op) for path, _, op in _operations() if path.endswith(tuple(media))]
    assert len(files) == 7  # four under /v1/athletes/{athlete_id}, three through feed links (/v1/feeds)
    for path, op in files:
        content = op["responses"]["200"]["content"]
        assert list(content) == [media[path[path.rindex(".") :]]], path
        assert content[next(iter(content))]["schema"]["type"] == "string"
        assert all(list(r["content"]) == ["application/problem+json"] for s, r in op["responses"].items() if s >= "4")


def test_what_a_get_answers_a_put_takes_back() -> None:
    """Every property of a read model is a property of the body that writes it (read-only
    ones marked so: the server ignores them)."""
    pairs = 0
    for path, item in CONTRACT.spec["paths"].items():
        write = item.get("put") or item.get("patch")
        if "get" not in item or write is None or "requestBody" not in write:
            continue
        read = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"][len(REF) :]
        body = write["requestBody"]["content"]["application/json"]["schema"]["$ref"][len(REF) :]
        missing = set(CONTRACT.components[read]["properties"]) - set(CONTRACT.components[body]["properties"])
        assert missing == set(), (path, missing)
        pairs += 1
    assert pairs >= 5  # workouts, runs, check-ins, tests, the profile (and the account)


def test_server_defaults_are_optional_on_input_and_outputs_are_required() -> None:
    defaults = [
        f"{n}.{f}"
        for n in CONTRACT.inputs
        for f, spec in CONTRACT.components[n].get("properties", {}).items()
        if "default" in spec
    ]
    assert defaults == []
    assert (
        "side" not in CONTRACT.components["SetIn"]["required"]
        and 'Default: `"both"`' in CONTRACT.components["SetIn"]["properties"]["side"]["description"]
    )
    optional = [
        f"{n}.{f}"
        for n in CONTRACT.outputs - CONTRACT.inputs - PROBLEM_COMPONENTS
        for f in CONTRACT.components[n].get("properties", {})
        if f not in CONTRACT.components[n].get("required", [])
    ]
    assert optional == []
    shared_objects = {n for n in CONTRACT.inputs & CONTRACT.outputs if "properties" in CONTRACT.components[n]}
    assert shared_objects == set()  # an object is either read or written: its required list says one thing


def login_only_operations() -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, method, op in _operations()
        if op.get("security") and all("PersonalAccessToken" not in entry for entry in op["security"])
    ]


@pytest.fixture
def athlete(client: TestClient) -> Athlete:
    return register(client)


def test_declared_security_matches_the_server(client: TestClient, athlete: Athlete) -> None:
    """Operations that declare OAuth2 only refuse a personal access token (403), before any
    other check; those that declare both take one."""
    scopes = ["profile:read", "profile:write", "training:read", "training:write", "plans:read", "plans:write"]
    made = client.post("/v1/me/tokens", headers=athlete.headers, json={"name": "all", "scopes": scopes})
    assert made.status_code == 201, made.text
    pat = {"Authorization": f"Bearer {made.json()['token']}"}
    operations = login_only_operations()
    assert ("post", "/v1/me/tokens") in operations and ("get", "/v1/me") not in operations
    for method, path in operations:
        url = re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-000000000000", path)
        answer = client.request(method, url, headers=pat, json={})
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert client.get("/v1/me", headers=pat).status_code == 200
