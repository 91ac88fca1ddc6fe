"""Plan routes: a public preview, and an athlete's plans under /v1/athletes/{athlete_id}/plans."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session

from app.accounts.deps import athlete_access
from app.accounts.service import AthleteAccess
from app.core import idempotency
from app.core.db import get_session, get_write_session, read
from app.core.errors import problem_responses
from app.core.headers import sends
from app.core.media import NoJsonDefault, file_response, json_text
from app.core.pagination import Page, Paging, paginate
from app.core.shortcut import ShortcutRoute
from app.plans import schemas as s
from app.plans import service
from app.plans.engine import PlanDraft
from app.plans.wire import plan_json

# Preview, create and adapt run the plan engine: the edge counts them against their own budget.
GENERATION_PATHS = re.compile(r"^/v1/(plans/preview|athletes/[^/]+/plans(/[^/]+/adapt)?)$")

# The preview's one parameter is its body: it takes the shortcut (app/core/shortcut.py).
preview_router = APIRouter(prefix="/v1/plans", tags=["plans"], route_class=ShortcutRoute)
router = APIRouter(
    prefix="/v1/athletes/{athlete_id}/plans", tags=["plans"], responses=problem_responses(401, 403, 404, 422)
)

ReadSession = Annotated[Session, Depends(get_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]
Reader = Annotated[AthleteAccess, Depends(athlete_access("plans:read", reads_next=True))]
Writer = Annotated[AthleteAccess, Depends(athlete_access("plans:write"))]


@preview_router.post(
    "/preview",
    response_model=PlanDraft,
    responses=problem_responses(400, 422),
    summary="Preview a plan (no account needed)",
)
async def preview_plan(body: s.PreviewRequest) -> Response:
    """A plan from a profile in the body; nothing is stored. For onboarding and coaching tools."""
    # On the event loop: the engine is pure CPU for about a millisecond, touches no database,
    # and a sync route would cross to the thread pool and back for work the GIL serialises
    # anyway. The engine's own model needs no check on the way out; its text is written with
    # the sessions' shared items once each (wire.plan_json).
    return json_text(plan_json(service.preview(body)))


@router.post(
    "",
    status_code=201,
    response_model=s.PlanPublic,
    responses={**problem_responses(400, 409), **sends(201, "Location")},
    summary="Create a plan from the stored profile",
)
def create_plan(
    request: Request, session: WriteSession, access: Writer, body: s.PlanCreate, key: idempotency.KeyHeader = None
) -> Response:
    """Uses the athlete profile, with `profile_overrides` for this plan only. Send an
    `Idempotency-Key`: a retry with it answers with the plan made the first time."""

    def work() -> tuple[int, s.PlanPublic, dict[str, str]]:
        plan = service.create_plan(session, access.athlete_id, body)
        return 201, plan, {"Location": f"/v1/athletes/{access.athlete_id}/plans/{plan.id}"}

    return idempotency.respond_once(
        request,
        session,
        access.principal.user_id,
        key,
        f"plans:{access.athlete_id}",
        body,
        work,
    )


@router.get("", summary="List plans")
async def list_plans(
    request: Request,
    response: Response,
    session: ReadSession,
    access: Reader,
    page: Paging,
    status: Annotated[Literal["active", "archived"] | None, Query(description="Only plans in this state.")] = None,
) -> Page[s.PlanSummary]:
    """Newest first."""
    items, total = await read(session, service.list_plans, session, access.athlete_id, status, page)
    return paginate(request, response, page, items, total)


@router.get("/{plan_id:uuid}", summary="Get a plan")
async def get_plan(session: ReadSession, access: Reader, plan_id: uuid.UUID) -> s.PlanPublic:
    """Weeks, sessions with the workouts logged against them, and each week's adaptation."""
    return await read(session, service.get_plan, session, access.athlete_id, plan_id)


@router.post("/{plan_id:uuid}/archive", summary="Archive a plan")
def archive_plan(session: WriteSession, access: Writer, plan_id: uuid.UUID) -> s.PlanPublic:
    """The plan stays readable and is listed under `status=archived`; adapting it is then a 409."""
    return service.archive_plan(session, access.athlete_id, plan_id)


@router.post(
    "/{plan_id:uuid}/adapt", responses=problem_responses(400, 409), summary="Adapt the next week from the logs"
)
def adapt_plan(
    session: WriteSession, access: Writer, plan_id: uuid.UUID, body: s.AdaptRequest | None = None
) -> s.AdaptationPublic:
    """Judges a week (the last finished one unless `week` is given) by Silbernagel's pain-monitoring
    model and progresses, holds or regresses the next week. It also runs by itself when a linked
    workout completes a week. Judging the same week again returns the first decision."""
    return service.adapt(session, access.athlete_id, plan_id, body.week if body else None)


@router.get(
    "/{plan_id:uuid}.ics",
    summary="The plan as an iCalendar feed",
    responses={
        200: {**file_response("text/calendar", "An iCalendar file")[200], **sends(200, "Content-Disposition")[200]}
    },
    response_class=NoJsonDefault,
)
def plan_calendar(session: ReadSession, access: Reader, plan_id: uuid.UUID) -> Response:
    """Subscribe in a calendar app to see the sessions on their days."""
    plan = service.get_plan(session, access.athlete_id, plan_id)
    return Response(
        service.ical(plan),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="runstrong-plan-{plan_id}.ics"'},
    )
