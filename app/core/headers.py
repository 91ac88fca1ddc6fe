"""The headers of the contract: every response header the service sends and every request
header it reads, declared once as OpenAPI components and put on the operations that use
them by rules (what an operation answers, which method, which parameters) rather than by
hand per route. Routes declare only what no rule can know (``sends(201, "Location")``).

:func:`declare_headers` runs over the generated document; ``EXPOSED`` is what CORS lets a
browser's script read, so the two cannot disagree."""

from __future__ import annotations

from typing import Any

HEADER_REF = "#/components/headers/"

# name -> (description, schema, example); OpenAPI header objects.
_HEADERS: dict[str, tuple[str, dict[str, Any], Any]] = {
    "X-Request-ID": (
        "The request's id: yours when you sent a plain token of up to 128 characters, else a new one. "
        "Quote it when reporting a problem.",
        {"type": "string", "maxLength": 128},
        "4bf92f3577b34da6a3ce929d0e0e4736",
    ),
    "ETag": (
        "The representation's version. Send it back in `If-Match` to change the record, or in "
        "`If-None-Match` for a 304 when nothing changed.",
        {"type": "string"},
        '"3"',
    ),
    "Cache-Control": (
        "`public, max-age=300` on catalogue reads; `no-store` on every answer to a request that "
        "carries credentials (personal data stays out of shared caches).",
        {"type": "string"},
        "public, max-age=300",
    ),
    "Location": (
        "Where the record just created (or replaced) can be read.",
        {"type": "string", "format": "uri-reference"},
        "/v1/athletes/5b0f3c2e-8d4a-4f57-9a61-2a7c1e0b9d33/workouts/0d7c5c1a-3f2b-4e9a-8b6d-1f4e2a9c7b55",
    ),
    "Link": (
        'RFC 8288 links to the neighbouring pages: `rel="next"`, `"prev"`, `"first"`, `"last"`.',
        {"type": "string"},
        '</v1/exercises?limit=20&offset=20>; rel="next"',
    ),
    "Retry-After": (
        "Seconds to wait before sending the request again.",
        {"type": "integer", "minimum": 0},
        5,
    ),
    "Idempotent-Replayed": (
        "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`: "
        "nothing was created again.",
        {"type": "string", "enum": ["true"]},
        "true",
    ),
    "RateLimit-Policy": (
        "The limit this request counts against (IETF draft-ietf-httpapi-ratelimit-headers): "
        '`"writes";q=120;w=60` is 120 requests per client per 60-second window. Sent when the '
        "deployment limits requests (`RUNSTRONG_RATE_LIMIT_ENABLED`, on in production).",
        {"type": "string"},
        '"writes";q=120;w=60',
    ),
    "RateLimit": (
        'What is left of that limit: `"writes";r=119;t=42` is 119 requests left, the window starting '
        "again in 42 s. Sent with `RateLimit-Policy`.",
        {"type": "string"},
        '"writes";r=119;t=42',
    ),
    "WWW-Authenticate": (
        "The credential the operation wants (RFC 6750): `Bearer`; on 403 "
        '`error="insufficient_scope"` with the missing scopes; `error="insufficient_user_authentication"` '
        "when a recent login is needed (RFC 9470).",
        {"type": "string"},
        'Bearer error="insufficient_user_authentication", max_age=600',
    ),
    "Content-Disposition": (
        "The file name to save the download under.",
        {"type": "string"},
        'attachment; filename="runstrong-export.csv"',
    ),
}

# Response headers a browser's script may read only when CORS exposes them (Cache-Control
# is safelisted already).
EXPOSED = [name for name in _HEADERS if name != "Cache-Control"]

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An `ETag` from an earlier answer: 304 Not Modified, with no body, while it still matches.",
    "schema": {"type": "string"},
    "example": '"6f1ed002ab5595859014ebf0951522d9"',
}


def components() -> dict[str, dict[str, Any]]:
    """The header objects, for ``components.headers``."""
    headers = {}
    for name, (description, schema, example) in _HEADERS.items():
        header: dict[str, Any] = {"description": description, "schema": schema, "example": example}
        if name == "X-Request-ID":
            header["required"] = True
        headers[name] = header
    return headers


def sends(status: int, *names: str) -> dict[int | str, dict[str, Any]]:
    """A ``responses=`` entry: the answer with ``status`` carries these headers."""
    unknown = set(names) - set(_HEADERS)
    assert not unknown, f"undeclared headers {unknown}"
    return {status: {"headers": {name: {"$ref": HEADER_REF + name} for name in names}}}


def _add(response: dict[str, Any], *names: str) -> None:
    headers = response.setdefault("headers", {})
    for name in names:
        headers.setdefault(name, {"$ref": HEADER_REF + name})


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((p for p in operation.get("parameters", []) if p.get("name", "").lower() == name.lower()), None)


def _require(parameter: dict[str, Any]) -> None:
    """Make an optional parameter required: its schema no longer admits null."""
    parameter["required"] = True
    schema = parameter["schema"]
    kept = [variant for variant in schema.pop("anyOf", []) if variant.get("type") != "null"]
    if len(kept) == 1:
        schema.update(kept[0])


def declare_headers(schema: dict[str, Any]) -> None:
    """Put every header on the operations that send or read it, by these rules:

    * every answer carries ``X-Request-ID``;
    * an operation that may answer 304 (the catalogue) reads ``If-None-Match`` and sends
      ``ETag`` and ``Cache-Control`` with its 200 and 304;
    * 409 (a request with this Idempotency-Key still running), 429 and 503 carry ``Retry-After``;
    * writes count against the rate limits: ``RateLimit-Policy`` and ``RateLimit`` on every answer;
    * an operation with a ``limit`` parameter pages with ``Link``;
    * one that takes an ``Idempotency-Key`` and creates (201) may answer ``Idempotent-Replayed``;
    * answers to requests with credentials carry ``Cache-Control: no-store``; 401 and 403
      carry ``WWW-Authenticate`` (which credential or scope is missing); operations open to
      anyone say so with ``security: []``;
    * ``If-Match`` is required where its absence is a 428, except on PUT, whose first call
      creates the record without one.
    """
    schema.setdefault("components", {})["headers"] = components()
    for item in schema["paths"].values():
        for method, operation in item.items():
            responses: dict[str, dict[str, Any]] = operation["responses"]
            secured = bool(operation.get("security"))
            if not secured:
                operation["security"] = []
            if "304" in responses:
                if _parameter(operation, "If-None-Match") is None:
                    operation.setdefault("parameters", []).append(dict(IF_NONE_MATCH))
                for status in ("200", "304"):
                    _add(responses[status], "ETag", "Cache-Control")
            if _parameter(operation, "limit") is not None and "200" in responses:
                _add(responses["200"], "Link")
            if _parameter(operation, "Idempotency-Key") is not None and "201" in responses:
                _add(responses["201"], "Idempotent-Replayed")
            if "428" in responses and method != "put" and (if_match := _parameter(operation, "If-Match")):
                _require(if_match)
            for status, response in responses.items():
                _add(response, "X-Request-ID")
                if status in ("409", "429", "503"):
                    _add(response, "Retry-After")
                if method in WRITE_METHODS:
                    _add(response, "RateLimit-Policy", "RateLimit")
                if secured:
                    _add(response, "Cache-Control")
                if status in ("401", "403"):
                    _add(response, "WWW-Authenticate")
