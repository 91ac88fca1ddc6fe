"""The application factory: settings, engine, routers, middleware, error handlers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from app.accounts import router as accounts
from app.accounts.deps import personal_token, recent_login_principal, session_principal
from app.accounts.service import client_identity
from app.analytics.router import router as analytics_router
from app.catalogue.router import CATALOGUE_PREFIXES
from app.catalogue.router import router as catalogue_router
from app.catalogue.seed import stored_version
from app.core import contract, health, ratelimit
from app.core.config import Settings, get_settings
from app.core.db import RequestSessions, build_engine
from app.core.docs import install_docs
from app.core.edge import Guard, Limits
from app.core.errors import Problem, install_error_handlers, problem_responses
from app.core.front import Front, Service
from app.core.headers import EXPOSED, declare_headers
from app.core.http_cache import HttpCache, Responses
from app.core.observability import REQUEST_ID_HEADER, install_observability
from app.core.routes import build_routes, reject_early, route_index
from app.examples import add_examples
from app.feeds import router as feeds
from app.oauth import router as oauth
from app.plans import router as plans
from app.training import router as training
from app.webhooks import router as webhooks
from app.webhooks.schemas import EventPayload, EventType

DESCRIPTION = """\
Strength training and Achilles tendon loading for runners.

The **catalogue** (muscles, running phases, structures, injuries, equipment, exercises,
their progressions, and evidence-based loading protocols) is public and read-only.
Every record names its sources: the seed articles runstrong was built from and the
published studies behind its rules (`/v1/sources`).

Errors are RFC 9457 `application/problem+json` documents. Lists are paginated with
`limit`/`offset`, carry a `total`, and send RFC 8288 `Link` headers. Catalogue responses
carry a strong `ETag` (send it back in `If-None-Match` for a 304) and `Cache-Control`.

Every response carries an `X-Request-ID` (yours, when you send a plain token of up to 128
characters, or a new one); quote it when reporting a problem. Request bodies are limited
in size (413). Deployments may limit writes and plan generation per client (429 with
`Retry-After`). A request that does not start its answer in time gets 504; a write sent
again with the same `Idempotency-Key` is then safe. When the database cannot serve
(unreachable, locked, read-only, full) the answer is 503 with `Retry-After`, and nothing
was changed.
"""

# Where the contract is served; generated clients take their base URL from here.
SERVERS = [{"url": "http://localhost:8000", "description": "A local server (`make run`)."}]

# Documented on every operation of these kinds (the edge middleware may answer them).
WRITE_METHODS = ("post", "put", "patch", "delete")

TAGS = [
    {"name": "muscles", "description": "Muscle groups and individual muscles that running works."},
    {"name": "running phases", "description": "The phases of the running gait cycle."},
    {
        "name": "structures",
        "description": "Tendons and fascia: the Achilles tendon and the iliotibial band.",
    },
    {"name": "injuries", "description": "Running injuries tied to weakness or overload."},
    {
        "name": "exercises",
        "description": "Exercises, their doses, and the progression graph between them.",
    },
    {"name": "equipment", "description": "What exercises may require."},
    {"name": "protocols", "description": "Named loading protocols with stages and prescriptions."},
    {"name": "sources", "description": "Seed articles and studies that catalogue facts cite."},
    {"name": "auth", "description": "Register, log in, rotate and revoke tokens."},
    {"name": "account", "description": "Your account, personal access tokens and coach grants."},
    {"name": "oauth", "description": "OAuth2 for apps: consent, the token endpoint (RFC 6749), revocation, metadata."},
    {"name": "apps", "description": "OAuth2 apps you develop, and the apps you allowed to use your account."},
    {"name": "athletes", "description": "An athlete's data: yours (`me`) or an athlete who granted you access."},
    {"name": "workouts", "description": "Strength sessions and their sets."},
    {"name": "runs", "description": "Runs, entered or imported from FIT and GPX files."},
    {"name": "pain check-ins", "description": "Morning pain and stiffness per site, and VISA-A scores."},
    {"name": "clinical tests", "description": "Heel-raise and hop tests, judged against the criteria plans move on."},
    {"name": "sync", "description": "The change feed for incremental sync, and the export."},
    {"name": "plans", "description": "Evidence-based strength and tendon plans that adapt to the logs."},
    {
        "name": "analytics",
        "description": "Weekly load, strength progress, pain trend and plan adherence, as JSON and SVG.",
    },
    {"name": "webhooks", "description": "Signed event deliveries to your URL, their log and redelivery."},
    {"name": "feeds", "description": "Expiring, revocable links to a chart or a plan's calendar, for embedding."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def operation_id(route: APIRoute) -> str:
    """Stable operationIds: the handler's name (``list_exercises``)."""
    return route.name


WEBHOOK_HEADERS = {
    "webhook-id": "The delivery's id: the same on every attempt, so a receiver can ignore copies.",
    "webhook-timestamp": "When it was signed, in seconds since the epoch.",
    "webhook-signature": "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with the subscription's secret.",
}


def webhook_operations() -> dict[str, Any]:
    """What runstrong POSTs to a subscribed URL, per event type (OpenAPI 3.1 ``webhooks``)."""
    return {
        event_type: {
            "post": {
                "summary": f"{event_type}",
                "operationId": f"webhook_{event_type.replace('.', '_')}",
                "tags": ["webhooks"],
                # The receiver authenticates a delivery by its Standard Webhooks signature
                # (the webhook-signature header), not by an API credential.
                "security": [],
                "parameters": [
                    {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
                    for name, text in WEBHOOK_HEADERS.items()
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventPayload"}}},
                },
                "responses": {
                    "2XX": {"description": "Accepted; anything else (or no answer in time) is retried."},
                },
            }
        }
        for event_type in get_args(EventType)
    }


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; ``engine`` is built from the settings unless one is handed in."""
    settings = settings or get_settings()
    owned = engine is None  # dispose of only an engine this app built
    engine = engine or build_engine(settings)
    replica = settings.catalogue_database_url
    catalogue_engine = build_engine(settings.model_copy(update={"database_url": replica})) if replica else engine
    # The edge's rate-limit count on the driver (when limits are on).
    counts = ratelimit.count_now(engine, settings) if settings.rate_limited else None

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        route_index(started)  # once, before the first request
        if settings.environment != "test":
            build_routes(started)  # before the first request, and before the heap is frozen
        threshold = settings.collector_threshold
        if threshold is not None:
            gc.set_threshold(threshold, *gc.get_threshold()[1:])
        if settings.freeze_heap:
            # What start-up made lives as long as the process: a full collection walked it
            # all (about 145 ms, once every few thousand requests, about 50 us a request).
            gc.collect()
            gc.freeze()
        dispatcher = None
        if settings.embedded_worker:  # the single-machine default: deliver from the server itself
            from app.webhooks.dispatcher import start_in_thread

            dispatcher = start_in_thread(engine, settings)
        counting = started.state.count_now  # None where a test counts on its own session
        if counting is not None:
            await counting.start()
        try:
            yield
        finally:
            if counting is not None:
                await counting.stop()
        if dispatcher is not None:
            thread, stop, worker = dispatcher
            stop.set()
            thread.join(timeout=settings.webhook_timeout_s + 5)
            worker.close()
        started.state.sessions.close()
        if owned:
            engine.dispose()
        if catalogue_engine is not engine:
            catalogue_engine.dispose()

    app = Service(
        title="runstrong",
        version=version("runstrong"),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        license_info={"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        # Off in production unless asked for: the schema stays available as app.openapi()
        # (routes, `runstrong openapi`) and in the committed openapi.json.
        docs_url=None,  # served from the package's assets below, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
        # Operators watch Prometheus metrics and the JSON access line (app/core/observability.py);
        # FastAPI's built-in OpenTelemetry instrumentation otherwise checks for a provider on
        # every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    if settings.docs:
        install_docs(app, "/openapi.json")
    app.state.settings = settings
    app.state.engine = engine
    app.state.catalogue_engine = catalogue_engine
    # requests', streams' and the edge's
    app.state.sessions = RequestSessions(engine, catalogue_engine, keep=settings.db_pool_size)
    app.state.count_now = counts  # ... and on the database driver, on the event loop
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(catalogue_router)
    app.include_router(accounts.auth)
    app.include_router(accounts.me)
    app.include_router(accounts.athletes)
    app.include_router(oauth.router)
    app.include_router(oauth.me)
    app.include_router(training.router)
    app.include_router(plans.preview_router)
    app.include_router(plans.router)
    app.include_router(analytics_router)
    app.include_router(webhooks.router)
    app.include_router(feeds.manage)
    app.include_router(feeds.public)
    # Middleware, innermost first (each add_middleware wraps what is there):
    # request id > metrics and access log > Guard > CORS > HttpCache > Limits > routes
    # (catalogue cache hits need no limits: no body, no write, answered from memory).
    app.add_middleware(
        Limits,
        settings=settings,
        connections=lambda: app.state.sessions.connection(),
        count_now=lambda: app.state.count_now,
        identify=client_identity(settings),
        uploads=training.UPLOADS,
        plan_generation=plans.GENERATION_PATHS,
    )
    responses = app.state.responses = Responses(
        prefixes=CATALOGUE_PREFIXES,
        version_source=lambda: stored_version(app.state.catalogue_engine),
        max_entries=settings.catalogue_cache_entries,
        max_age=settings.catalogue_max_age_s,
        version_ttl=settings.catalogue_version_ttl_s,
    )
    app.add_middleware(HttpCache, responses=responses)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                REQUEST_ID_HEADER,
            ],
            expose_headers=EXPOSED,
            max_age=600,
        )
    app.add_middleware(Guard, settings=settings)
    install_observability(app, settings, engine)
    app.front = Front(responses, settings)  # kept catalogue answers, before all of the above

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = (
                _DOCUMENT["openapi"] if "openapi" in _DOCUMENT else _DOCUMENT.setdefault("openapi", document(app))
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    reject_early(app)
    return app


# Every app this process builds has the same routes, so the document (about a second of
# CPU to generate) is built once per process, on first use: the server builds it when
# /openapi.json is first asked for, never at start-up.
_DOCUMENT: dict[str, dict[str, Any]] = {}


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app``: FastAPI's, plus what the edge may answer, the
    webhook payloads, the declared headers, examples and the contract's conventions."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        license_info=app.license_info,
    )
    # What the edge answers before a route runs: 400 for a body that is not valid
    # JSON (or UTF-8), 413 for one too large, 429 over a write limit; 503 (with
    # Retry-After) whenever the database cannot serve; and 504 for any request that has
    # not started its answer within the request timeout.
    edge = problem_responses(400, 413, 429, 503, 504)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            responses.setdefault("504", edge[504])
            if path != "/healthz":  # everything else may find the database unavailable
                responses.setdefault("503", edge[503])
            if "requestBody" in operation:
                responses.setdefault("400", edge[400])
                responses.setdefault("413", edge[413])
            if method in WRITE_METHODS:
                responses.setdefault("429", edge[429])
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    payload = EventPayload.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(payload.pop("$defs", {}))
    components["EventPayload"] = payload
    schema["webhooks"] = webhook_operations()
    schema["servers"] = SERVERS
    declare_headers(schema)
    add_examples(schema)
    pat = jsonable_encoder(personal_token.model, by_alias=True, exclude_none=True)
    contract.also_accepted(schema, "OAuth2", personal_token.scheme_name, pat)
    contract.login_only(schema, app.routes, (session_principal, recent_login_principal))
    return contract.apply(schema)
