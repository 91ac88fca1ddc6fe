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
                if path.startswith("/oauth/") and status in ("400", "401", "403", "429"):
                    # RFC 6749 error bodies (token, revocation) and the consent page's HTML
                    assert list(response["content"]) in (["application/json"], ["text/html"]), (path, status)
                elif status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (path, status)
            if path.startswith("/v1/") and "{slug}" in path:
                assert "404" in op["responses"]
    assert len(ids) == len(set(ids))
    assert "list_exercises" in ids and "get_exercise" in ids


def test_every_operation_is_described_under_a_declared_tag() -> None:
    """What Spectral's operation-description and operation-tag-defined rules ask (contract/run lints)."""
    spec = schema()
    declared = {tag["name"] for tag in spec["tags"]}
    undescribed, undeclared = [], []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not op.get("description", "").strip():
                undescribed.append(f"{method} {path}")
            undeclared += [f"{method} {path}: {tag}" for tag in op["tags"] if tag not in declared]
    assert undescribed == []
    assert undeclared == []


def test_every_field_is_described() -> None:
    undescribed = [
        f"{name}.{field}"
        for name, component in schema()["components"]["schemas"].items()
        for field, spec in component.get("properties", {}).items()
        if "description" not in spec and "$ref" not in spec
    ]
    assert undescribed == []


def test_every_list_has_a_bounded_page_size() -> None:
    """Anything that returns a list takes a ``limit`` with a maximum."""
    spec = schema()
    components = spec["components"]["schemas"]
    lists = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
            body = content.get("schema", {})
            properties = components.get(body.get("$ref", "").rsplit("/", 1)[-1], {}).get("properties", {})
            if body.get("type") == "array" or properties.get("items", {}).get("type") == "array":
                lists.append(f"{method} {path}")
                limit = {p["name"]: p for p in operation.get("parameters", [])}.get("limit")
                assert limit is not None, f"{method} {path} returns a list without a limit"
                assert 1 <= limit["schema"]["maximum"] <= 500, f"{method} {path}"
    assert len(lists) >= 16  # catalogue, log, plans, tokens, coaches, athletes


def test_edge_answers_are_documented() -> None:
    """413 wherever a body is taken and 429 on every write: the edge may answer them."""
    for path, item in schema()["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], f"{method} {path}"
            if method in ("post", "put", "patch", "delete"):
                assert "429" in operation["responses"], f"{method} {path}"


def test_headers_are_declared_where_they_are_sent_and_read() -> None:
    """What a generated client needs from headers is in the contract, by rule: ETag and
    Location where records are made, If-Match required where its absence is a 428, If-None-Match
    where a 304 is possible, an Idempotency-Key on every POST that creates, Retry-After on 429
    and 503, the rate-limit headers on every write, X-Request-ID on every answer."""
    spec = schema()
    assert {"ETag", "Location", "Link", "Retry-After", "Idempotent-Replayed", "X-Request-ID"} <= set(
        spec["components"]["headers"]
    )
    assert {"RateLimit-Policy", "RateLimit", "Cache-Control", "WWW-Authenticate"} <= set(spec["components"]["headers"])
    creating, requiring = [], []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            where = f"{method} {path}"
            params = {p["name"]: p for p in op.get("parameters", [])}
            for status, response in op["responses"].items():
                headers = response.get("headers", {})
                assert "X-Request-ID" in headers, (where, status)
                if status in ("429", "503"):
                    assert "Retry-After" in headers, (where, status)
                if method in ("post", "put", "patch", "delete"):
                    assert {"RateLimit-Policy", "RateLimit"} <= set(headers), (where, status)
            if "304" in op["responses"]:
                assert "If-None-Match" in params and "ETag" in op["responses"]["200"]["headers"], where
            if "428" in op["responses"]:
                assert "If-Match" in params and "ETag" in op["responses"]["200"]["headers"], where
                if method == "patch":
                    requiring.append(where)
                    assert params["If-Match"]["required"] is True, where
                    assert "anyOf" not in params["If-Match"]["schema"], where
            if method == "post" and "201" in op["responses"]:
                creating.append(where)
                assert "Idempotency-Key" in params, f"{where} creates without an Idempotency-Key"
                assert "Idempotent-Replayed" in op["responses"]["201"]["headers"], where
            if "limit" in params:
                assert "Link" in op["responses"]["200"]["headers"], where
    assert len(requiring) == 4 and len(creating) >= 8  # four record kinds; records, import, plans, tokens, coaches
    for path in ("/v1/athletes/{athlete_id}/workouts", "/v1/athletes/{athlete_id}/plans"):
        assert "Location" in spec["paths"][path]["post"]["responses"]["201"]["headers"]


def test_public_operations_say_so_and_there_is_a_server() -> None:
    spec = schema()
    assert spec["servers"] and spec["servers"][0]["url"].startswith("http")
    operations = [(f"{method} {path}", op) for path, item in spec["paths"].items() for method, op in item.items()]
    public = {where for where, op in operations if op["security"] == []}
    assert {"post /v1/auth/register", "post /v1/auth/token", "get /v1/exercises", "get /healthz"} <= public
    assert "get /v1/me" not in public and "post /v1/athletes/{athlete_id}/workouts" not in public


def test_request_examples_are_valid_for_their_operations() -> None:
    """Every request example (the README's curl bodies) validates against the operation's
    schema, so a shape change cannot leave the documentation showing a body that fails."""
    import jsonschema_rs  # schemathesis's validator

    from app.examples import REQUEST_EXAMPLES

    spec = schema()
    seen = set()
    for item in spec["paths"].values():
        for op in item.values():
            for media in op.get("requestBody", {}).get("content", {}).values():
                if "example" in media:
                    seen.add(op["operationId"])
                    validator = jsonschema_rs.Draft202012Validator(
                        {**media["schema"], "components": spec["components"]}
                    )
                    errors = [str(e) for e in validator.iter_errors(media["example"])]
                    assert errors == [], (op["operationId"], errors)
    assert seen == set(REQUEST_EXAMPLES)


# RFC 6749 fixes the error shapes of the OAuth2 endpoints: the token and revocation endpoints
# answer `{"error": ...}` as application/json (RFC 6749 5.2, RFC 7009 2.2.1), and the
# authorization endpoint shows the person at the browser an HTML page (RFC 6749 4.1.2.1: it
# must not redirect to an unverified redirect_uri). Generic OAuth2 clients parse only those.
# A request FastAPI refuses before the endpoint runs (422) is still a problem.
OAUTH2_ERROR_MEDIA = {"/oauth/token": "application/json", "/oauth/revoke": "application/json"}
OAUTH2_ERROR_MEDIA["/oauth/authorize"] = "text/html"


def test_each_error_status_has_its_own_example() -> None:
    examples: dict[str, set[str]] = {}
    for path, item in schema()["paths"].items():
        for op in item.values():
            for status, response in op["responses"].items():
                oauth2_error = path in OAUTH2_ERROR_MEDIA and "application/problem+json" not in response.get(
                    "content", {}
                )
                if status.startswith(("4", "5")) and oauth2_error:
                    assert list(response["content"]) == [OAUTH2_ERROR_MEDIA[path]], (path, status)
                elif status.startswith(("4", "5")):
                    example = response["content"]["application/problem+json"]["example"]
                    assert example["status"] == int(status)
                    examples.setdefault(status, set()).add(example["detail"])
    details = [detail for found in examples.values() for detail in found]
    assert len(details) == len(set(details)) == len(examples) >= 10  # one per status, none shared
