"""The catalogue API as a client sees it, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def items(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a list, following the `next` links."""
    found: list[dict[str, Any]] = []
    response = client.get(path, params={"limit": 100, **params})
    while True:
        assert response.status_code == 200, response.text
        found += response.json()["items"]
        nxt = response.links.get("next")
        if not nxt:
            return found
        response = client.get(nxt["url"])


def slugs(records: list[dict[str, Any]]) -> set[str]:
    return {r["slug"] for r in records}


def test_exercise_list_is_paginated_with_total_and_links(client: TestClient) -> None:
    first = client.get("/v1/exercises", params={"limit": 10})
    body = first.json()
    assert body["limit"] == 10 and body["offset"] == 0 and len(body["items"]) == 10
    total = body["total"]
    assert total >= 70
    assert set(first.links) == {"first", "next", "last"}
    assert first.links["last"]["url"].endswith(f"offset={(total - 1) // 10 * 10}")
    # Walking the pages gives every record once, in a stable order.
    walked = items(client, "/v1/exercises")
    assert len(walked) == total == len(slugs(walked))
    assert [r["slug"] for r in walked] == [r["slug"] for r in items(client, "/v1/exercises")]
    names = [(r["name"], r["slug"]) for r in walked]
    assert names == sorted(names)


def test_page_past_the_end_is_empty_not_an_error(client: TestClient) -> None:
    response = client.get("/v1/exercises", params={"offset": 5000})
    assert response.status_code == 200
    assert response.json()["items"] == [] and "prev" in response.links


def test_exercise_detail_has_instructions_dose_and_links(client: TestClient) -> None:
    x = client.get("/v1/exercises/eccentric-heel-raise").json()
    assert x["loading_type"] == "eccentric"
    assert len(x["steps"]) >= 3 and x["primary_muscles"]
    assert x["dose"]["sets"]["min"] == 3 and x["dose"]["reps"]["min"] == 12
    assert "seed-004" in x["dose"]["sources"]
    assert {"slug": "step", "name": x["equipment"][0]["name"]} in x["equipment"]
    assert x["regressions"] and x["progressions"]


def test_numbers_are_json_numbers(client: TestClient) -> None:
    hop = client.get("/v1/exercises/single-leg-forward-hop").json()
    assert hop["achilles_load"]["body_weights"] == 7.3
    assert isinstance(hop["achilles_load"]["tier"], int)


def test_unknown_slug_is_a_404_problem(client: TestClient) -> None:
    for path in (
        "/v1/exercises/heel-flip",
        "/v1/muscles/quadzilla",
        "/v1/protocols/nope",
        "/v1/injuries/x",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["status"] == 404 and problem["instance"] == path and problem["type"] == "/problems/not-found"


def test_bad_query_parameter_is_a_422_naming_it(client: TestClient) -> None:
    response = client.get("/v1/exercises", params={"limit": 1000, "level": "superhuman"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert {e["name"] for e in problem["errors"]} == {"limit", "level"}
    assert all(e["location"] == "query" for e in problem["errors"])


def test_unknown_filter_slug_is_a_404_naming_the_parameter(client: TestClient) -> None:
    response = client.get("/v1/exercises", params={"muscle": "wings"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["name"] == "muscle"


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    assert client.get("/v1/nothing-here").headers["content-type"] == PROBLEM
    response = client.post("/v1/exercises")
    assert response.status_code == 405 and response.headers["content-type"] == PROBLEM


def test_muscle_filter_includes_the_members_of_a_group(client: TestClient) -> None:
    calves = slugs(items(client, "/v1/exercises", muscle="calves"))
    soleus = slugs(items(client, "/v1/exercises", muscle="soleus"))
    assert soleus and soleus <= calves
    assert "seated-heel-raise" in calves and "plank" not in calves
    primary = items(client, "/v1/exercises", muscle="gluteus-medius", muscle_role="primary")
    assert primary and all(any(m["slug"] == "gluteus-medius" for m in r["primary_muscles"]) for r in primary)


def test_equipment_filters(client: TestClient) -> None:
    none_needed = items(client, "/v1/exercises", equipment="none")
    assert none_needed and all(r["equipment"] == [] for r in none_needed)
    with_step = items(client, "/v1/exercises", equipment="step")
    assert with_step and all(any(e["slug"] == "step" for e in r["equipment"]) for r in with_step)
    doable = items(client, "/v1/exercises", available_equipment=["step", "dumbbell"])
    assert {"eccentric-heel-raise", "plank"} <= slugs(doable)
    assert all({e["slug"] for e in r["equipment"]} <= {"step", "dumbbell"} for r in doable)


def test_injury_filter_includes_more_specific_forms(client: TestClient) -> None:
    parent = slugs(items(client, "/v1/exercises", injury="achilles-tendinopathy"))
    mid = slugs(items(client, "/v1/exercises", injury="mid-portion-achilles-tendinopathy"))
    assert mid and mid <= parent
    insertional = slugs(items(client, "/v1/exercises", injury="insertional-achilles-tendinopathy"))
    assert "eccentric-heel-drop-straight-knee" not in insertional


def test_loading_type_level_laterality_and_tier_filters(client: TestClient) -> None:
    plyo = items(client, "/v1/exercises", loading_type="plyometric", laterality="unilateral")
    assert plyo and all(r["loading_type"] == "plyometric" and r["laterality"] == "unilateral" for r in plyo)
    gentle = items(client, "/v1/exercises", max_achilles_tier=1)
    assert "seated-heel-raise" in slugs(gentle)
    assert all(r["achilles_load"]["tier"] == 1 for r in gentle)
    beginner = items(client, "/v1/exercises", level="beginner")
    assert beginner and all(r["level"] == "beginner" for r in beginner)


def test_free_text_search_covers_synonyms(client: TestClient) -> None:
    assert "peroneals" in slugs(items(client, "/v1/muscles", q="fibular"))
    assert "quadriceps" in slugs(items(client, "/v1/muscles", q="QUADS"))
    assert slugs(items(client, "/v1/exercises", q="100%_")) == set()


def test_muscles_groups_and_members(client: TestClient) -> None:
    calves = client.get("/v1/muscles/calves").json()
    assert calves["kind"] == "group" and calves["key_for_achilles"]
    assert {m["slug"] for m in calves["members"]} == {"gastrocnemius", "soleus"}
    assert client.get("/v1/muscles/soleus").json()["group"]["slug"] == "calves"
    groups = items(client, "/v1/muscles", kind="group")
    assert len(groups) == 12
    key = slugs(items(client, "/v1/muscles", key_for_achilles=True))
    assert {"calves", "gluteus-medius", "gluteus-maximus", "hamstrings", "quadriceps"} <= key


def test_phases_list_the_muscles_that_work_in_them(client: TestClient) -> None:
    phases = items(client, "/v1/phases")
    assert [p["slug"] for p in phases] == ["stance", "propulsion", "swing"]
    propulsion = client.get("/v1/phases/propulsion").json()
    assert {"gastrocnemius", "soleus"} <= {m["muscle"]["slug"] for m in propulsion["muscles"]}
    swing_muscles = slugs(items(client, "/v1/muscles", phase="swing"))
    assert "hamstrings" in swing_muscles or "biceps-femoris-long-head" in swing_muscles


def test_achilles_structure_reports_seed_and_measured_loads(client: TestClient) -> None:
    achilles = client.get("/v1/structures/achilles-tendon").json()
    assert {m["slug"] for m in achilles["muscles"]} >= {"gastrocnemius", "soleus"}
    measured = [load for load in achilles["loads"] if load["measured"]]
    claimed = [load for load in achilles["loads"] if not load["measured"]]
    assert any(load["body_weights_high"] >= 7 for load in measured)
    assert {"seed-000", "seed-004"} <= {src for load in claimed for src in load["sources"]}


def test_injury_detail_links_muscles_and_exercises(client: TestClient) -> None:
    tendinopathy = client.get("/v1/injuries/achilles-tendinopathy").json()
    assert {c["slug"] for c in tendinopathy["children"]} == {
        "mid-portion-achilles-tendinopathy",
        "insertional-achilles-tendinopathy",
    }
    knee = client.get("/v1/injuries/patellofemoral-pain").json()
    assert knee["weak_muscles"] and knee["exercises"]
    assert "patellofemoral-pain" in slugs(items(client, "/v1/injuries", muscle="gluteals"))


def test_progressions_and_regressions(client: TestClient) -> None:
    two_leg = client.get("/v1/exercises/two-leg-heel-raise/progressions").json()
    assert "one-leg-heel-raise" in {p["exercise"]["slug"] for p in two_leg["progressions"]}
    hold = client.get("/v1/exercises/calf-raise-hold/progressions").json()
    regressions = {p["exercise"]["slug"]: p for p in hold["regressions"]}
    assert "two-leg-calf-raise-hold" in regressions
    assert regressions["two-leg-calf-raise-hold"]["regress_when"]
    edges = items(client, "/v1/progressions")
    assert len(edges) >= 30
    assert client.get("/v1/exercises/nope/progressions").status_code == 404
    # The prose rules come with the same rules as data the plan engine evaluates.
    assert all(e["progress_criteria"] and e["regress_criteria"] for e in edges)
    step = {p["exercise"]["slug"]: p for p in two_leg["progressions"]}["one-leg-heel-raise"]
    by_slug = {c["slug"]: c for c in step["progress_criteria"]}
    assert by_slug["pain-during-at-most-3"] | {"description": ""} == {
        "slug": "pain-during-at-most-3",
        "metric": "pain_during_max",
        "op": "<=",
        "value": 3,
        "source": "runstrong-default",
        "gate": False,
        "description": "",
    }
    assert by_slug["morning-pain-at-usual"]["gate"] is True


def test_protocols(client: TestClient) -> None:
    hsr = client.get("/v1/protocols/heavy-slow-resistance").json()
    assert [s["week_from"] for s in hsr["stages"]] == [1, 2, 4, 6, 9]
    silbernagel = client.get("/v1/protocols/silbernagel-pain-monitored").json()
    assert len(silbernagel["stages"]) == 4 and silbernagel["pain_rules"]
    assert silbernagel["stages"][0]["entry_criteria"]
    phase3 = silbernagel["stages"][2]
    assert [c["slug"] for c in phase3["entry"]] == ["no-insertion-pain", "hop-pain-at-most-2", "pain-free-hops-10"]
    assert [c["slug"] for c in phase3["exit"]] == ["heel-raises-25", "heel-raise-symmetry-90"]
    assert (phase3["min_weeks"], phase3["max_weeks"]) == (6, 10)
    assert {c["slug"] for c in silbernagel["regress_criteria"]} >= {"pain-during-above-5", "run-pain-above-5"}
    tendinopathy = items(client, "/v1/protocols", kind="achilles-tendinopathy")
    assert {"alfredson-eccentric", "heavy-slow-resistance", "silbernagel-pain-monitored"} <= slugs(tendinopathy)


def test_sources_resolve(client: TestClient) -> None:
    sources = slugs(items(client, "/v1/sources"))
    for record in items(client, "/v1/exercises"):
        assert set(record["sources"]) <= sources
    assert client.get("/v1/sources/beyer-2015").json()["kind"] == "evidence"


def test_equipment_list_and_detail(client: TestClient) -> None:
    equipment = items(client, "/v1/equipment")
    assert "step" in slugs(equipment)
    assert client.get("/v1/equipment/step").json()["name"]


def test_etag_304_and_cache_control(client: TestClient) -> None:
    first = client.get("/v1/exercises/plank")
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    again = client.get("/v1/exercises/plank", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = client.get("/v1/exercises/plank", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    for tags in (
        [("if-none-match", '"other"'), ("if-none-match", etag)],
        [("if-none-match", etag), ("if-none-match", '"x"')],
    ):
        assert client.get("/v1/exercises/plank", headers=tags).status_code == 304  # one list, in two headers
    changed = client.get("/v1/exercises/plank", headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200 and changed.json() == first.json()
    listing = client.get("/v1/exercises", params={"limit": 5})
    assert listing.headers["etag"] != etag and "link" in listing.headers


def test_head_has_headers_but_no_body(client: TestClient) -> None:
    response = client.head("/v1/muscles")
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) > 100 and response.headers["etag"]


def test_errors_are_not_cached(client: TestClient) -> None:
    response = client.get("/v1/exercises/heel-flip")
    assert response.status_code == 404 and "etag" not in response.headers


def test_concurrent_requests_share_one_version_read() -> None:
    """While the catalogue version is being re-read, other requests do not start reads
    of their own (at 32 connections that herd of reads was the p99 tail)."""
    import asyncio
    import threading
    import time

    from starlette.types import Receive, Scope, Send

    from app.core.http_cache import HttpCache, Responses

    reads = 0
    lock = threading.Lock()

    def slow_version() -> str:
        nonlocal reads
        with lock:
            reads += 1
        time.sleep(0.05)
        return "v1"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    cache = HttpCache(
        app,
        responses=Responses(
            prefixes=("/v1/x",), version_source=slow_version, max_entries=10, max_age=60, version_ttl=3600
        ),
    )

    async def one() -> None:
        sent: list[object] = []

        async def send(message: object) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/v1/x", "query_string": b"", "headers": []}
        await cache(scope, None, send)  # type: ignore[arg-type]
        assert sent

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(32)))

    asyncio.run(many())
    assert reads == 1


def test_links_are_shared_but_follow_a_renamed_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """A link is made once per (record, name) and shared by every answer, so it cannot be
    changed; a record renamed by a new seed gets a link with its new name; the shared
    links are bounded."""
    from pydantic import ValidationError

    from app.catalogue import schemas

    first = schemas.ref("soleus", "Soleus")
    assert schemas.ref("soleus", "Soleus") is first
    renamed = schemas.ref("soleus", "Soleus muscle")
    assert renamed is not first and renamed.name == "Soleus muscle" and first.name == "Soleus"
    with pytest.raises(ValidationError):
        first.name = "Changed"  # type: ignore[misc]  # what the frozen model refuses
    monkeypatch.setattr(schemas, "_REFS_KEPT", 3)
    for n in range(10):
        schemas.ref(f"muscle-{n}", f"Muscle {n}")
        assert len(schemas._REFS) <= 3
