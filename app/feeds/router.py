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
from app.core.db import get_session, get_write_session
from app.core.errors import problem_responses
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
ICS: dict[int | str, dict[str, Any]] = {200: {"description": "An iCalendar file", "content": {"text/calendar": {}}}}


@manage.post("", status_code=status.HTTP_201_CREATED, summary="Make a feed link")
def create_feed(request: Request, session: WriteSession, principal: Caller, body: s.FeedCreate) -> s.FeedCreated:
    """An expiring, read-only link to one chart (`load.svg`, `progress.svg`) or one plan's
    calendar (`plan.ics`) of yours or of an athlete who granted you access, for an `<img src>`
    or a calendar subscription. The link carries a token that grants that one resource and
    nothing else; it is shown once. Needs the resource's read scope."""
    return service.create(session, principal, body, str(request.base_url).rstrip("/"))


@manage.get("", summary="List my feed links")
def list_feeds(
    request: Request, response: Response, session: ReadSession, principal: Caller, page: Paging
) -> Page[s.FeedPublic]:
    """Oldest first; the links themselves are not shown again."""
    items, total = service.list_feeds(session, principal, page)
    return paginate(request, response, page, items, total)


@manage.delete("/{feed_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a feed link")
def revoke_feed(session: WriteSession, principal: Caller, feed_id: uuid.UUID) -> Response:
    service.revoke(session, principal, feed_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@public.get("/load.svg", summary="Weekly load chart through a feed link", responses=SVG)
def feed_load_chart(
    session: ReadSession, token: Token, first: First = None, last: Last = None, threshold: Threshold = 10
) -> Response:
    from app.analytics import charts

    feed = service.resolve(session, token, "load.svg")
    report = analytics.load(session, feed.athlete_id, first, last, threshold)
    return Response(charts.load_chart(report), media_type="image/svg+xml", headers=FEED_HEADERS)


@public.get("/progress.svg", summary="Progress chart through a feed link", responses=SVG)
def feed_progress_chart(
    session: ReadSession, token: Token, exercise: ExerciseQuery = None, first: First = None, last: Last = None
) -> Response:
    from app.analytics import charts

    feed = service.resolve(session, token, "progress.svg")
    report = analytics.progress(session, feed.athlete_id, exercise, first, last)
    return Response(charts.progress_chart(report), media_type="image/svg+xml", headers=FEED_HEADERS)


@public.get("/plan.ics", summary="A plan's calendar through a feed link", responses=ICS)
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
