"""Feed routes: /v1/me/feeds (make, list, revoke links) and /v1/feeds/... (what a link opens,
with its token in the query string and no Authorization header)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, Security, status
from sqlmodel import Session

from app.accounts.deps import current_principal
from app.accounts.service import Principal
from app.analytics import service as analytics
from app.analytics.router import SVG, ExerciseQuery, First, Last, Threshold
from app.core import idempotency
from app.core.db import get_session, get_write_session
from app.core.errors import problem_responses
from app.core.headers import sends
from app.core.media import NoJsonDefault, file_response
from app.core.pagination import Page, Paging, paginate
from app.feeds import schemas as s
from app.feeds import service
from app.plans import service as plans

manage = APIRouter(prefix="/v1/me/feeds", tags=["feeds"], responses=problem_responses(401, 403, 404, 422))
public = APIRouter(prefix="/v1/feeds", tags=["feeds"], responses=problem_responses(404, 422))
ReadSession = Annotated[Session, Depends(get_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]
Caller = Annotated[Principal, Security(current_principal)]
Token = Annotated[str, Query(min_length=1, max_length=200, description="The link's token, as the link carries it.")]
# Feeds are fetched by calendar apps and browsers: cached briefly, privately (every response
# already carries Referrer-Policy: no-referrer, so the link is never passed on).
FEED_HEADERS = {"Cache-Control": "private, max-age=300"}
ICS = file_response("text/calendar", "An iCalendar file")


@manage.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=s.FeedCreated,
    responses={**problem_responses(409), **sends(201, "Location")},
    summary="Make a feed link",
)
def create_feed(
    request: Request, session: WriteSession, principal: Caller, body: s.FeedCreate, key: idempotency.KeyHeader = None
) -> Response:
    """An expiring, read-only link to one chart (`load.svg`, `progress.svg`) or one plan's
    calendar (`plan.ics`) of yours or of an athlete who granted you access, for an `<img src>`
    or a calendar subscription. The link carries a token that grants that one resource and
    nothing else; it is shown once. Needs the resource's read scope. A retry with the same
    `Idempotency-Key` answers with the same link and a new token (the first one was never
    stored, and stops working)."""
    base_url = str(request.base_url).rstrip("/")

    def work() -> tuple[int, s.FeedCreated, dict[str, str]]:
        created = service.create(session, principal, body, base_url)
        return 201, created, {"Location": "/v1/me/feeds"}

    def replayed(stored: dict[str, Any]) -> dict[str, Any]:
        return service.reissue(session, principal, uuid.UUID(stored["id"]), base_url).model_dump(mode="json")

    return idempotency.respond_once(
        request,
        session,
        principal.user_id,
        key,
        "me/feeds",
        body,
        work,
        never_kept="url",
        replayed=replayed,
    )


@manage.get("", summary="List my feed links")
def list_feeds(
    request: Request, response: Response, session: ReadSession, principal: Caller, page: Paging
) -> Page[s.FeedPublic]:
    """Oldest first; the links themselves are not shown again."""
    items, total = service.list_feeds(session, principal, page)
    return paginate(request, response, page, items, total)


@manage.delete("/{feed_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a feed link")
def revoke_feed(session: WriteSession, principal: Caller, feed_id: uuid.UUID) -> Response:
    """The link stops working at once."""
    service.revoke(session, principal, feed_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@public.get("/load.svg", summary="Weekly load chart through a feed link", responses=SVG, response_class=NoJsonDefault)
def feed_load_chart(
    session: ReadSession, token: Token, first: First = None, last: Last = None, threshold: Threshold = 10
) -> Response:
    """The weekly load chart (`GET /v1/athletes/{athlete_id}/load.svg`) of the link's athlete,
    for an `<img src>`: no Authorization header, the link's token grants it."""
    from app.analytics import charts

    feed = service.resolve(session, token, "load.svg")
    report = analytics.load(session, feed.athlete_id, first, last, threshold)
    return Response(charts.load_chart(report), media_type="image/svg+xml", headers=FEED_HEADERS)


@public.get("/progress.svg", summary="Progress chart through a feed link", responses=SVG, response_class=NoJsonDefault)
def feed_progress_chart(
    session: ReadSession, token: Token, exercise: ExerciseQuery = None, first: First = None, last: Last = None
) -> Response:
    """The strength progress and pain chart (`GET /v1/athletes/{athlete_id}/progress.svg`) of the
    link's athlete, for an `<img src>`: no Authorization header, the link's token grants it."""
    from app.analytics import charts

    feed = service.resolve(session, token, "progress.svg")
    report = analytics.progress(session, feed.athlete_id, exercise, first, last)
    return Response(charts.progress_chart(report), media_type="image/svg+xml", headers=FEED_HEADERS)


@public.get("/plan.ics", summary="A plan's calendar through a feed link", responses=ICS, response_class=NoJsonDefault)
def feed_plan_calendar(session: ReadSession, token: Token) -> Response:
    """Subscribe to this URL in a calendar app."""
    feed = service.resolve(session, token, "plan.ics")
    assert feed.plan_id is not None
    plan = plans.get_plan(session, feed.athlete_id, feed.plan_id)
    return Response(
        plans.ical(plan),
        media_type="text/calendar; charset=utf-8",
        headers={**FEED_HEADERS, "Content-Disposition": f'inline; filename="runstrong-plan-{feed.plan_id}.ics"'},
    )
