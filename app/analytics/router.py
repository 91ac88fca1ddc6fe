"""Load and progress analytics under /v1/athletes/{athlete_id}/, as JSON and as SVG charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from app.accounts.deps import athlete_access
from app.accounts.service import AthleteAccess
from app.analytics import schemas as s
from app.analytics import service
from app.core.db import get_session, read_long
from app.core.errors import problem_responses
from app.core.media import NoJsonDefault, file_response
from app.core.schemas import SLUG_PATTERN, Day

router = APIRouter(
    prefix="/v1/athletes/{athlete_id}", tags=["analytics"], responses=problem_responses(401, 403, 404, 422)
)
ReadSession = Annotated[Session, Depends(get_session)]
Reader = Annotated[AthleteAccess, Depends(athlete_access("training:read", reads_next=True))]
First = Annotated[
    Day | None,
    Query(alias="from", description="First day; 12 weeks (load) or 26 weeks (progress) back by default."),
]
Last = Annotated[Day | None, Query(alias="to", description="Last day; today by default.")]
Threshold = Annotated[
    float, Query(ge=0, le=100, description="Week-over-week distance rise that draws a warning, in %.")
]
ExerciseQuery = Annotated[str | None, Query(max_length=80, pattern=SLUG_PATTERN, description="The exercise to follow.")]
SVG = file_response("image/svg+xml", "An SVG chart")


@router.get("/load", summary="Weekly load")
async def get_load(
    session: ReadSession, access: Reader, first: First = None, last: Last = None, threshold: Threshold = 10
) -> s.LoadReport:
    """Per week: running distance and time, strength sets per muscle group, session load, monotony and
    strain, the week-over-week distance change with a warning, and the acute:chronic ratio with its caveat."""
    return await read_long(session, service.load, session, access.athlete_id, first, last, threshold)


@router.get("/load.svg", summary="Weekly load as a chart", responses=SVG, response_class=NoJsonDefault)
def get_load_chart(
    session: ReadSession, access: Reader, first: First = None, last: Last = None, threshold: Threshold = 10
) -> Response:
    """The weekly load report (`GET .../load`) drawn as an SVG chart, sized for a phone's web view."""
    from app.analytics import charts  # matplotlib loads on the first chart, not at start-up

    return Response(
        charts.load_chart(service.load(session, access.athlete_id, first, last, threshold)), media_type="image/svg+xml"
    )


@router.get("/progress", summary="Strength progress, pain trend and plan adherence")
async def get_progress(
    session: ReadSession, access: Reader, exercise: ExerciseQuery = None, first: First = None, last: Last = None
) -> s.ProgressReport:
    """Estimated 1RM per session (Epley and Brzycki, from sets of 10 reps or fewer), best set and volume
    for an exercise; the weekly pain trend per site with the week-to-week rule; plan adherence."""
    return await read_long(session, service.progress, session, access.athlete_id, exercise, first, last)


@router.get(
    "/progress.svg", summary="Strength progress and pain as a chart", responses=SVG, response_class=NoJsonDefault
)
def get_progress_chart(
    session: ReadSession, access: Reader, exercise: ExerciseQuery = None, first: First = None, last: Last = None
) -> Response:
    """The progress report (`GET .../progress`) drawn as an SVG chart, sized for a phone's web view."""
    from app.analytics import charts  # matplotlib loads on the first chart, not at start-up

    return Response(
        charts.progress_chart(service.progress(session, access.athlete_id, exercise, first, last)),
        media_type="image/svg+xml",
    )
