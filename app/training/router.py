"""Training-log routes under /v1/athletes/{athlete_id}/: workouts, runs, pain check-ins and
clinical tests (one route factory serves all four), the change feed, the export and run import."""

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlmodel import Session

from app.accounts.deps import athlete_access, writing_athlete
from app.accounts.service import AthleteAccess
from app.core import idempotency
from app.core.db import RequestSessions, get_session, get_write_session, read, read_session_of
from app.core.errors import problem_responses
from app.core.headers import sends
from app.core.media import NoJsonDefault, file_response, json_answer
from app.core.schemas import SLUG_PATTERN, Day
from app.core.shortcut import ShortcutRoute
from app.training import imports, records, service
from app.training import schemas as s
from app.training.records import Kind

PREFIX = "/v1/athletes/{athlete_id}"
# For the edge's body limit: the run import takes a file up to MAX_UPLOAD_BYTES, plus
# room for the multipart framing and form fields around it.
UPLOADS = (re.compile(r"^/v1/athletes/[^/]+/runs/import$"), service.MAX_UPLOAD_BYTES + 1024 * 1024)
router = APIRouter(prefix=PREFIX, responses=problem_responses(401, 403, 404, 422), route_class=ShortcutRoute)

ReadSession = Annotated[Session, Depends(get_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]
Reader = Annotated[AthleteAccess, Depends(athlete_access("training:read", reads_next=True))]
# The exports stream from sessions of their own: the check ends its transaction first.
Exporter = Annotated[AthleteAccess, Depends(athlete_access("training:read"))]
# Checked in the write's own thread-pool call where the route takes the shortcut (the
# record routes); a multipart upload goes FastAPI's way, where the check is on the loop.
Writer = Annotated[AthleteAccess, writing_athlete("training:write")]
Importer = Annotated[AthleteAccess, Depends(athlete_access("training:write"))]
IdempotencyKey = idempotency.KeyHeader
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200, description="The ETag from your last read.")]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1-100.")]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="From `next_cursor`.")]
FromDate = Annotated[
    Day | None, Query(alias="from", description="Only on or after this day (the athlete's time zone).")
]
ToDate = Annotated[Day | None, Query(alias="to", description="Only on or before this day (the athlete's time zone).")]
MAX_SEQ = 2**31 - 1  # change numbers are 32-bit integer columns (PostgreSQL's INTEGER)
CONFLICTS = problem_responses(400, 409)
PRECONDITIONS = problem_responses(400, 412, 428)


def location(access: AthleteAccess, plural: str, record_id: uuid.UUID) -> str:
    return f"/v1/athletes/{access.athlete_id}/{plural}/{record_id}"


def answered(session: Session, code: int, public: BaseModel, headers: dict[str, str]) -> Response:
    """The response, rendered before the commit: what cannot be answered is not stored."""
    response = json_answer(public, code, headers)
    session.commit()
    return response


def idempotent_create(
    request: Request,
    session: Session,
    access: AthleteAccess,
    key: str | None,
    scope: str,
    payload: BaseModel,
    work: idempotency.Rendered,
) -> Response:
    """Run ``work`` once per Idempotency-Key (per caller and athlete)."""
    return idempotency.respond_once(
        request, session, access.principal.user_id, key, f"{scope}:{access.athlete_id}", payload, work
    )


def record_routes(
    kind: Kind[Any, Any],
    plural: str,
    create_model: Any,
    patch_model: Any,
    public_model: Any,
    tag: str,
    *,
    by_exercise: bool = False,
) -> None:
    """Create, create-or-replace (PUT with the client's UUID), read, list, patch and delete."""
    one = "/" + plural + "/{record_id:uuid}"

    def saved(session: Session, access: AthleteAccess, row: Any, code: int) -> tuple[int, BaseModel, dict[str, str]]:
        public = kind.publish(session, [row])[0]
        return code, public, {"ETag": records.etag(row.version), "Location": location(access, plural, row.id)}

    @router.post(
        f"/{plural}",
        status_code=201,
        response_model=public_model,
        tags=[tag],
        responses={**CONFLICTS, **sends(201, "ETag", "Location")},
        name=f"create_{kind.entity}",
        summary=f"Record a {kind.label}",
        description=f"Answers 201 with the {kind.label}, its `ETag` and `Location`. Send an `Idempotency-Key`: "
        f"a retry with it gets the first answer back instead of recording the {kind.label} twice.",
    )
    def create(
        request: Request, session: WriteSession, access: Writer, body: create_model, key: IdempotencyKey = None
    ) -> Response:
        """With an Idempotency-Key, a retry of the same body answers the first response again."""
        return idempotent_create(
            request,
            session,
            access,
            key,
            plural,
            body,
            lambda: saved(session, access, records.create(session, kind, access.athlete_id, body), 201),
        )

    @router.put(
        one,
        response_model=public_model,
        tags=[tag],
        responses={
            **PRECONDITIONS,
            **CONFLICTS,
            **sends(200, "ETag", "Location"),
            201: {
                "description": "Created with the client's id.",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{public_model.__name__}"}}},
                **sends(201, "ETag", "Location")[201],
            },
        },
        name=f"put_{kind.entity}",
        summary=f"Create or replace a {kind.label} by its client-made id",
    )
    def put(
        session: WriteSession, access: Writer, record_id: uuid.UUID, body: create_model, if_match: IfMatch = None
    ) -> Response:
        """Offline sync: the first PUT creates the record with this id (201); sending the same
        body again changes nothing (200); a different body needs If-Match (428, 412)."""
        row, created = records.replace(session, kind, access.athlete_id, record_id, body, if_match)
        return answered(session, *saved(session, access, row, 201 if created else 200))

    @router.get(
        one,
        response_model=public_model,
        tags=[tag],
        responses=sends(200, "ETag"),
        name=f"get_{kind.entity}",
        summary=f"Get a {kind.label}",
        description=f"The {kind.label}, with its version as `ETag`: send that in `If-Match` to change it.",
    )
    async def get(request: Request, access: Reader, record_id: uuid.UUID) -> Response:
        """Its `ETag` (the quoted `version`) is what `If-Match` takes on PATCH, PUT and DELETE."""
        session = read_session_of(request)  # the access check's: no dependency of its own to solve
        public, version = await read(session, records.get, session, kind, access.athlete_id, record_id)
        return json_answer(public, 200, {"ETag": records.etag(version)})

    page_model = s.CursorPage[public_model]

    async def listing(
        access: AthleteAccess,
        request: Request,
        limit: int,
        cursor: str | None,
        first: date | None,
        last: date | None,
        exercise: str | None,
    ) -> Response:
        session = read_session_of(request)  # the access check's: no dependency of its own to solve
        items, next_cursor = await read(
            session, service.list_records, session, kind, access.athlete_id, limit, cursor, first, last, exercise
        )
        headers = {}
        if next_cursor:
            headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
        return json_answer(page_model(items=items, next_cursor=next_cursor), 200, headers)

    if by_exercise:

        @router.get(
            f"/{plural}",
            response_model=s.CursorPage[public_model],
            tags=[tag],
            name=f"list_{plural}",
            summary=f"List {plural}, newest first",
        )
        async def list_with_exercise(
            access: Reader,
            request: Request,
            limit: Limit = 20,
            cursor: Cursor = None,
            first: FromDate = None,
            last: ToDate = None,
            exercise: Annotated[
                str | None,
                Query(max_length=80, pattern=SLUG_PATTERN, description="Only workouts with a set of this exercise."),
            ] = None,
        ) -> Response:
            """Keyset pagination: follow `next_cursor` (or the `Link` header)."""
            return await listing(access, request, limit, cursor, first, last, exercise)
    else:

        @router.get(
            f"/{plural}",
            response_model=s.CursorPage[public_model],
            tags=[tag],
            name=f"list_{plural}",
            summary=f"List {plural}, newest first",
        )
        async def list_plain(
            access: Reader,
            request: Request,
            limit: Limit = 20,
            cursor: Cursor = None,
            first: FromDate = None,
            last: ToDate = None,
        ) -> Response:
            """Keyset pagination: follow `next_cursor` (or the `Link` header)."""
            return await listing(access, request, limit, cursor, first, last, None)

    @router.patch(
        one,
        response_model=public_model,
        tags=[tag],
        responses={**PRECONDITIONS, **sends(200, "ETag")},
        name=f"update_{kind.entity}",
        summary=f"Change a {kind.label}",
    )
    def update(
        session: WriteSession,
        access: Writer,
        record_id: uuid.UUID,
        body: patch_model,
        if_match: IfMatch = None,
    ) -> Response:
        """Needs If-Match with the current ETag: 428 without it, 412 when the record changed meanwhile."""
        row = records.patch(session, kind, access.athlete_id, record_id, body, if_match)
        return answered(session, 200, kind.publish(session, [row])[0], {"ETag": records.etag(row.version)})

    @router.delete(
        one,
        status_code=204,
        tags=[tag],
        responses=problem_responses(412),
        name=f"delete_{kind.entity}",
        summary=f"Delete a {kind.label}",
    )
    def remove(session: WriteSession, access: Writer, record_id: uuid.UUID, if_match: IfMatch = None) -> Response:
        """If-Match is optional here; when sent it must match. The deletion stays in the change feed."""
        records.remove(session, kind, access.athlete_id, record_id, if_match)
        session.commit()
        return Response(status_code=204)


record_routes(service.WORKOUTS, "workouts", s.WorkoutIn, s.WorkoutPatch, s.WorkoutPublic, "workouts", by_exercise=True)
record_routes(service.RUNS, "runs", s.RunIn, s.RunPatch, s.RunPublic, "runs")
record_routes(service.CHECKINS, "checkins", s.CheckInIn, s.CheckInPatch, s.CheckInPublic, "pain check-ins")
record_routes(service.TESTS, "tests", s.ClinicalTestIn, s.ClinicalTestPatch, s.ClinicalTestPublic, "clinical tests")


@router.post(
    "/runs/import",
    status_code=201,
    tags=["runs"],
    responses={**problem_responses(400, 409, 413), **sends(201, "ETag", "Location")},
    response_model=s.RunPublic,
    summary="Import a run from a Garmin FIT or GPX file",
)
def import_run(
    request: Request,
    session: WriteSession,
    access: Importer,
    file: Annotated[UploadFile, File(description="A Garmin .fit or a .gpx file, at most 10 MiB.")],
    type: Annotated[s.RunType, Form(description="Kind of run.")] = s.RunType.easy,
    session_rpe: Annotated[float | None, Form(ge=0, le=10, multiple_of=0.5, description="Session RPE, 0-10.")] = None,
    pain_during: Annotated[int | None, Form(ge=0, le=10, description="Worst pain during, 0-10.")] = None,
    key: IdempotencyKey = None,
) -> Response:
    """The start, distance and duration come from the file; a corrupt or unsupported file is a 422."""
    data = file.file.read(service.MAX_UPLOAD_BYTES + 1)
    # Read no longer than the request may run: past its deadline the client has its 504.
    deadline = getattr(request.state, "deadline", None)
    budget_s = imports.DECODE_BUDGET_S
    if deadline is not None:
        budget_s = min(budget_s, max(0.0, deadline - time.monotonic() - 0.5))
    body, source = service.run_from_file(
        data, file.filename, file.content_type, type, session_rpe, pain_during, budget_s
    )

    def work() -> tuple[int, BaseModel, dict[str, str]]:
        row = service.create_imported_run(session, access.athlete_id, body, source)
        public = service.RUNS.publish(session, [row])[0]
        return 201, public, {"ETag": records.etag(row.version), "Location": location(access, "runs", row.id)}

    return idempotent_create(request, session, access, key, "runs/import", body, work)


@router.get("/changes", tags=["sync"], summary="The change feed, for incremental sync", response_model=s.ChangeFeed)
async def list_changes(
    request: Request,
    access: Reader,
    since: Annotated[
        int, Query(ge=0, le=MAX_SEQ, description="The `next_since` of your last call; 0 for everything.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Changes per call, 1-500.")] = 100,
) -> Response:
    """Created, changed and deleted records (deletions as tombstones) in commit order.
    Store `next_since` and call again; while `has_more` is true, call at once."""
    session = read_session_of(request)  # the access check's: no dependency of its own to solve
    feed = await read(session, service.changes, session, access.athlete_id, since, limit)
    return json_answer(feed)  # validated as it was built: written once, not checked again


def _reader(request: Request) -> Callable[[], AbstractContextManager[Session]]:
    sessions: RequestSessions = request.app.state.sessions
    return sessions.outliving


def _export(request: Request, athlete_id: uuid.UUID, format: Literal["json", "csv"]) -> StreamingResponse:
    sessions = _reader(request)
    stream: Iterator[bytes] = (
        service.export_json(sessions, athlete_id) if format == "json" else service.export_csv(sessions, athlete_id)
    )
    media = "application/json" if format == "json" else "text/csv; charset=utf-8"
    filename = f"runstrong-{athlete_id}.{format}"
    return StreamingResponse(
        stream, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/export",
    tags=["sync"],
    summary="Export all training data (streamed)",
    response_model=s.Export,
    responses={
        200: {
            "description": "Every record as one JSON document (or, with the deprecated `format=csv`, the CSV "
            "that /export.csv answers).",
            "content": {"text/csv": {"schema": {"type": "string"}}},
            **sends(200, "Content-Disposition")[200],
        }
    },
)
def export(
    request: Request,
    access: Exporter,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="json: everything; csv (deprecated: use /export.csv): one row per set.", deprecated=True),
    ] = "json",
) -> StreamingResponse:
    """Streams in batches, so even 100,000 sets never sit in memory at once."""
    return _export(request, access.athlete_id, format)


@router.get(
    "/export.csv",
    tags=["sync"],
    summary="Export the workouts as CSV, one row per set (streamed)",
    responses=file_response("text/csv", "One row per set; a workout without sets has one row."),
    response_class=NoJsonDefault,
)
def export_csv(request: Request, access: Exporter) -> StreamingResponse:
    """The workout's id, start, duration, RPE, pain and notes, then the set's fields; streams in batches."""
    return _export(request, access.athlete_id, "csv")
