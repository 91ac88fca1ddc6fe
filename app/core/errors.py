"""Domain errors and their rendering as RFC 9457 ``application/problem+json``.

Services raise the domain errors below and never ``HTTPException``; one set of handlers
turns them, request-validation failures, unknown routes and unexpected failures into
problem documents with ``type``, ``title``, ``status``, ``detail`` and ``instance``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.routes import route_index

log = logging.getLogger("runstrong.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


class FieldProblem(BaseModel):
    """One invalid input field."""

    name: str = Field(description="The field or parameter, dotted for nested body fields.", examples=["limit"])
    location: str = Field(description="Where it was sent: query, path, header, body.", examples=["query"])
    detail: str = Field(description="What is wrong with it.", examples=["Input should be less than or equal to 100"])
    type: str = Field(description="A machine-readable error code.", examples=["less_than_equal"])


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI reference naming the problem type.", examples=["/problems/not-found"])
    title: str = Field(description="A short summary of the problem type.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(description="What went wrong in this occurrence.", examples=["No exercise 'heel-flip'."])
    instance: str = Field(
        description="The request path that produced the problem.",
        examples=["/v1/exercises/heel-flip"],
    )
    errors: list[FieldProblem] | None = Field(default=None, description="For validation problems: every invalid field.")


class DomainError(Exception):
    """Base of all errors a service may raise; rendered as a problem document."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    slug = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class NotFound(DomainError):
    status = HTTPStatus.NOT_FOUND
    slug = "not-found"


class Conflict(DomainError):
    status = HTTPStatus.CONFLICT
    slug = "conflict"


class Forbidden(DomainError):
    status = HTTPStatus.FORBIDDEN
    slug = "forbidden"


class Unauthorized(DomainError):
    status = HTTPStatus.UNAUTHORIZED
    slug = "unauthorized"


class ReauthenticationRequired(Unauthorized):
    """The credential is valid but its login is too old for a sensitive operation."""

    slug = "reauthentication-required"


class PreconditionFailed(DomainError):
    status = HTTPStatus.PRECONDITION_FAILED
    slug = "precondition-failed"


class PreconditionRequired(DomainError):
    status = HTTPStatus.PRECONDITION_REQUIRED
    slug = "precondition-required"


class TooManyRequests(DomainError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    slug = "too-many-requests"


class ContentTooLarge(DomainError):
    """More than the service reads or processes in one request."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    slug = "request-entity-too-large"


class InvalidInput(DomainError):
    """Input that is well-formed but refers to something that does not exist or cannot be."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"

    def __init__(self, detail: str, *, name: str, location: str = "query") -> None:
        super().__init__(detail)
        self.errors = [FieldProblem(name=name, location=location, detail=detail, type="invalid_reference")]

    @classmethod
    def of(cls, problems: list[FieldProblem]) -> InvalidInput:
        """One 422 naming every field in ``problems``; its detail is the first one's."""
        error = cls(problems[0].detail, name=problems[0].name, location=problems[0].location)
        error.errors = list(problems)
        return error


class ProblemResponse(JSONResponse):
    """A problem document. Its detail may quote the request (an unknown slug, a criterion's
    name), and a JSON body may hold a lone surrogate escape (``"\\ud800"``), which Python
    reads as a character UTF-8 cannot encode: written back as the same escape, so the
    client gets its 4xx instead of a 500."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body = Problem(
        type=PROBLEM_BASE + (slug or phrase.lower().replace(" ", "-")),
        title=phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
        **(extra or {}),
    )
    return ProblemResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        location = loc[0] if loc else "body"
        name = ".".join(loc[1:]) or location
        problems.append(
            FieldProblem(
                name=name,
                location=location,
                detail=str(err.get("msg", "invalid")),
                type=str(err.get("type", "invalid")),
            )
        )
    return problems


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        request,
        exc.status,
        exc.detail,
        slug=exc.slug,
        errors=getattr(exc, "errors", None),
        headers=exc.headers,
        extra=exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = _field_problems(exc)
    names = ", ".join(sorted({f"{p.location} {p.name}" for p in problems}))
    return problem_response(request, 422, f"Invalid input: {names}.", slug="validation-error", errors=problems)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}."
    if exc.status_code == 405:
        allowed = route_index(request.app).allowed_methods(request.url.path)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; use {', '.join(allowed)}."
    return problem_response(request, exc.status_code, detail, headers=headers)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    """The database refused a value the validators let through (e.g. a NUL byte)."""
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        request, 422, "The request contains a value the database cannot store.", slug="validation-error"
    )


# PostgreSQL's read_only_sql_transaction: a standby, or a database set read-only.
_READ_ONLY_SQLSTATES = frozenset({"25006"})
RETRY_AFTER_S = 5


_SQLITE_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_INTERRUPT,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot serve now (unreachable, locked, read-only,
    full, out of connections, too slow) rather than that the request was wrong: the
    driver's OperationalError on both databases (SQLite's "database is locked", "attempt
    to write a readonly database", "database or disk is full", "unable to open database
    file"; PostgreSQL's refused connections, shutdowns, disk full and statement timeouts),
    a lost connection, a pool with no connection to give, and writes refused by a
    read-only PostgreSQL. Integrity and data errors (the request's fault) are not."""
    if isinstance(exc, OperationalError) and isinstance(exc.orig, sqlite3.Error):
        # SQLite's OperationalError also covers mistakes ("no such table"): only busy,
        # locked, read-only, I/O, full, unopenable and interrupted mean "not now", or
        # an error while handling one (a full file rolls back, then its savepoint is gone).
        return any(
            isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorcode", 0) & 0xFF in _SQLITE_UNAVAILABLE
            for e in _chain(exc)
        )
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _READ_ONLY_SQLSTATES


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After: nothing was stored (the transaction did not commit)."""
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        request,
        503,
        f"The database cannot serve this request now; nothing was changed. Retry in {RETRY_AFTER_S} seconds.",
        slug="database-unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database error raised in a route: 503 when the database is unavailable, else 500."""
    return await unexpected_error(request, exc)


def _without_values(exc: DBAPIError) -> str:
    """The driver error's class, its primary message and the statement: nothing a row held."""
    diag = getattr(exc.orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc.orig).split("\n", 1)[0]
    return f"{type(exc.orig).__name__}: {primary} [SQL: {exc.statement}]"


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):  # raised outside the routes (a middleware), so it lands here
        return await _database_unavailable(request, exc)
    if isinstance(exc, DBAPIError):
        # A driver's message can quote the failing row (PostgreSQL's DETAIL: notes,
        # emails): log the statement, the driver's one-line reason and where it was
        # raised, never the values.
        log.error(
            "unhandled database error on %s %s: %s\n%s",
            request.method,
            request.url.path,
            _without_values(exc),
            "".join(traceback.format_tb(exc.__traceback__)),
        )
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "An unexpected error occurred; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    for unavailable in (OperationalError, InterfaceError, InternalError, PoolTimeout):
        app.add_exception_handler(unavailable, _database_error)
    app.add_exception_handler(Exception, unexpected_error)


# One realistic problem per status, as the service answers it, for the contract's examples.
_EXAMPLES: dict[int, tuple[str, str, str, dict[str, Any]]] = {
    400: ("bad-request", "There was an error parsing the body", "/v1/athletes/me/runs/import", {}),
    401: ("unauthorized", "The access token is invalid or expired.", "/v1/athletes/me/workouts", {}),
    403: (
        "forbidden",
        "This credential lacks the scope 'training:write'.",
        "/v1/athletes/me/workouts",
        {"missing_scopes": ["training:write"]},
    ),
    404: ("not-found", "No exercise 'heel-flip'.", "/v1/exercises/heel-flip", {}),
    409: (
        "conflict",
        "A request with this Idempotency-Key is still being processed.",
        "/v1/athletes/me/workouts",
        {},
    ),
    412: (
        "precondition-failed",
        "The record changed since you read it: it is now at version 3.",
        "/v1/athletes/me/workouts/0d7c5c1a-3f2b-4e9a-8b6d-1f4e2a9c7b55",
        {},
    ),
    413: (
        "request-entity-too-large",
        "The request body is larger than this endpoint accepts (1048576 bytes).",
        "/v1/athletes/me/workouts",
        {},
    ),
    422: (
        "validation-error",
        "Invalid input: body sets.0.exercise.",
        "/v1/athletes/me/workouts",
        {
            "errors": [
                {
                    "name": "sets.0.exercise",
                    "location": "body",
                    "detail": "No exercise 'heel-flip'.",
                    "type": "invalid_reference",
                }
            ]
        },
    ),
    428: (
        "precondition-required",
        "Send If-Match with the record's ETag (from GET) to change it.",
        "/v1/athletes/me/workouts/0d7c5c1a-3f2b-4e9a-8b6d-1f4e2a9c7b55",
        {},
    ),
    429: (
        "too-many-requests",
        "Too many writes: at most 120 every 60 s. Try again in 42 s.",
        "/v1/athletes/me/workouts",
        {},
    ),
    504: (
        "timeout",
        "The request did not finish within 30 s. If it was a write, send it again with the same Idempotency-Key.",
        "/v1/athletes/me/runs/import",
        {},
    ),
    503: (
        "database-unavailable",
        f"The database cannot serve this request now; nothing was changed. Retry in {RETRY_AFTER_S} seconds.",
        "/v1/athletes/me/workouts",
        {},
    ),
}


def problem_example(status: int) -> dict[str, Any]:
    """The example problem document for ``status``."""
    slug, detail, instance, extra = _EXAMPLES.get(
        status, (HTTPStatus(status).phrase.lower().replace(" ", "-"), HTTPStatus(status).description, "/v1/me", {})
    )
    return {
        "type": PROBLEM_BASE + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem documents for these statuses, each
    with an example of its own."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": problem_example(status),
                }
            },
        }
        for status in statuses
    }
