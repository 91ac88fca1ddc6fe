"""Read-only catalogue routes under /v1. Each handler parses, calls one service function
and writes its public model as the answer (the route's ``response_model`` is the contract;
the answer is written once, by pydantic-core, and the route takes the shortcut of
app/core/shortcut.py); ETag, 304 and Cache-Control come from the catalogue cache."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Session

from app.catalogue import schemas as s
from app.catalogue import service
from app.catalogue.content import BodyRegion, Laterality, Level, LoadingType, MuscleKind, SourceKind
from app.core.db import get_catalogue_session, read
from app.core.errors import problem_responses
from app.core.media import json_answer
from app.core.pagination import Page, Paging, page_answer
from app.core.schemas import NO_NUL_PATTERN, SLUG_PATTERN
from app.core.shortcut import ShortcutRoute

CATALOGUE_PREFIXES = (
    "/v1/sources",
    "/v1/muscles",
    "/v1/phases",
    "/v1/structures",
    "/v1/equipment",
    "/v1/injuries",
    "/v1/exercises",
    "/v1/progressions",
    "/v1/protocols",
)

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the `If-None-Match` ETag still matches."}
}
READ_RESPONSES = {**NOT_MODIFIED, **problem_responses(404, 422)}

router = APIRouter(prefix="/v1", route_class=ShortcutRoute)

DbSession = Annotated[Session, Depends(get_catalogue_session)]
SlugPath = Annotated[
    str,
    Path(min_length=1, max_length=80, pattern=SLUG_PATTERN, description="The record's slug.", examples=["soleus"]),
]
SearchQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=NO_NUL_PATTERN,
        description="Case-insensitive text searched in names and synonyms.",
        examples=["calf"],
    ),
]


# ---------------------------------------------------------------- sources


@router.get(
    "/sources", tags=["sources"], responses=READ_RESPONSES, summary="List sources", response_model=Page[s.SourcePublic]
)
async def list_sources(
    request: Request,
    session: DbSession,
    page: Paging,
    kind: Annotated[SourceKind | None, Query(description="Only seed articles, studies or editorial defaults.")] = None,
) -> Response:
    """The seed articles and published studies that catalogue facts cite."""
    items, total = await read(session, service.list_sources, session, page, kind.value if kind else None)
    return page_answer(request, page, items, total)


@router.get(
    "/sources/{slug}", tags=["sources"], responses=READ_RESPONSES, summary="Get a source", response_model=s.SourcePublic
)
async def get_source(session: DbSession, slug: SlugPath) -> Response:
    """A seed article, a published study, or `runstrong-default` (a conservative figure runstrong chose)."""
    return json_answer(await read(session, service.get_source, session, slug))


# ---------------------------------------------------------------- muscles


@router.get(
    "/muscles",
    tags=["muscles"],
    responses=READ_RESPONSES,
    summary="List muscles and muscle groups",
    response_model=Page[s.MusclePublic],
)
async def list_muscles(
    request: Request,
    session: DbSession,
    page: Paging,
    kind: Annotated[MuscleKind | None, Query(description="Only groups or only individual muscles.")] = None,
    group: Annotated[
        str | None,
        Query(max_length=80, pattern=SLUG_PATTERN, description="Only the members of this group.", examples=["calves"]),
    ] = None,
    body_region: Annotated[BodyRegion | None, Query(description="Only muscles in this region.")] = None,
    phase: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=SLUG_PATTERN,
            description="Only muscles that work in this running phase.",
            examples=["propulsion"],
        ),
    ] = None,
    key_for_achilles: Annotated[
        bool | None,
        Query(
            description="true: only the key muscles that spread running load away from the Achilles; false: the others."
        ),
    ] = None,
    q: SearchQuery = None,
) -> Response:
    """Muscle groups and their members in anatomical order (each group followed by its muscles)."""
    items, total = await read(
        session,
        service.list_muscles,
        session,
        page,
        kind=kind,
        group=group,
        body_region=body_region,
        phase=phase,
        key_for_achilles=key_for_achilles,
        q=q,
    )
    return page_answer(request, page, items, total)


@router.get(
    "/muscles/{slug}",
    tags=["muscles"],
    responses=READ_RESPONSES,
    summary="Get a muscle or muscle group",
    response_model=s.MusclePublic,
)
async def get_muscle(session: DbSession, slug: SlugPath) -> Response:
    """Its role in each running phase, what its weakness or tightness leads to, and the injuries it relates to."""
    return json_answer(await read(session, service.get_muscle, session, slug))


# ---------------------------------------------------------------- running phases


@router.get(
    "/phases",
    tags=["running phases"],
    responses=READ_RESPONSES,
    summary="List running phases",
    response_model=Page[s.RunningPhasePublic],
)
async def list_phases(request: Request, session: DbSession, page: Paging) -> Response:
    """The phases of the running gait cycle, in order, with the muscles that work in each."""
    items, total = await read(session, service.list_phases, session, page)
    return page_answer(request, page, items, total)


@router.get(
    "/phases/{slug}",
    tags=["running phases"],
    responses=READ_RESPONSES,
    summary="Get a running phase",
    response_model=s.RunningPhasePublic,
)
async def get_phase(session: DbSession, slug: SlugPath) -> Response:
    """Where it falls in the gait cycle and the muscles that work in it, with their roles."""
    return json_answer(await read(session, service.get_phase, session, slug))


# ---------------------------------------------------------------- structures


@router.get(
    "/structures",
    tags=["structures"],
    responses=READ_RESPONSES,
    summary="List structures",
    response_model=Page[s.StructurePublic],
)
async def list_structures(request: Request, session: DbSession, page: Paging) -> Response:
    """Tendons and fascia that matter to runners: the Achilles tendon and the iliotibial band."""
    items, total = await read(session, service.list_structures, session, page)
    return page_answer(request, page, items, total)


@router.get(
    "/structures/{slug}",
    tags=["structures"],
    responses=READ_RESPONSES,
    summary="Get a structure",
    response_model=s.StructurePublic,
)
async def get_structure(session: DbSession, slug: SlugPath) -> Response:
    """What it is, what it does in running and the muscles that join it."""
    return json_answer(await read(session, service.get_structure, session, slug))


# ---------------------------------------------------------------- equipment


@router.get(
    "/equipment",
    tags=["equipment"],
    responses=READ_RESPONSES,
    summary="List equipment",
    response_model=Page[s.EquipmentPublic],
)
async def list_equipment(request: Request, session: DbSession, page: Paging) -> Response:
    """Equipment that exercises may require, by name."""
    items, total = await read(session, service.list_equipment, session, page)
    return page_answer(request, page, items, total)


@router.get(
    "/equipment/{slug}",
    tags=["equipment"],
    responses=READ_RESPONSES,
    summary="Get equipment",
    response_model=s.EquipmentPublic,
)
async def get_equipment(session: DbSession, slug: SlugPath) -> Response:
    """What it is; `GET /v1/exercises?equipment={slug}` lists what needs it."""
    return json_answer(await read(session, service.get_equipment, session, slug))


# ---------------------------------------------------------------- injuries


@router.get(
    "/injuries",
    tags=["injuries"],
    responses=READ_RESPONSES,
    summary="List injuries",
    response_model=Page[s.InjuryPublic],
)
async def list_injuries(
    request: Request,
    session: DbSession,
    page: Paging,
    muscle: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=SLUG_PATTERN,
            description="Only injuries related to this muscle (a group includes its members).",
            examples=["gluteus-medius"],
        ),
    ] = None,
    body_region: Annotated[BodyRegion | None, Query(description="Only injuries in this region.")] = None,
    q: SearchQuery = None,
) -> Response:
    """Running injuries, by name, with the muscles whose weakness relates to them and the exercises that help."""
    items, total = await read(
        session, service.list_injuries, session, page, muscle=muscle, body_region=body_region, q=q
    )
    return page_answer(request, page, items, total)


@router.get(
    "/injuries/{slug}",
    tags=["injuries"],
    responses=READ_RESPONSES,
    summary="Get an injury",
    response_model=s.InjuryPublic,
)
async def get_injury(session: DbSession, slug: SlugPath) -> Response:
    """What it is, its broader and more specific forms, and the muscles that relate to it."""
    return json_answer(await read(session, service.get_injury, session, slug))


# ---------------------------------------------------------------- exercises


@router.get(
    "/exercises",
    tags=["exercises"],
    responses=READ_RESPONSES,
    summary="List and filter exercises",
    response_model=Page[s.ExercisePublic],
)
async def list_exercises(
    request: Request,
    session: DbSession,
    page: Paging,
    q: SearchQuery = None,
    muscle: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=SLUG_PATTERN,
            description="Only exercises working this muscle; a group includes its members.",
            examples=["calves"],
        ),
    ] = None,
    muscle_role: Annotated[
        Literal["any", "primary", "secondary"],
        Query(description="With `muscle`: match primary muscles, secondary ones, or either."),
    ] = "any",
    injury: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=SLUG_PATTERN,
            description="Only exercises that help this injury (including its more specific forms).",
            examples=["achilles-tendinopathy"],
        ),
    ] = None,
    loading_type: Annotated[LoadingType | None, Query(description="Only this kind of load.")] = None,
    equipment: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=SLUG_PATTERN,
            description="Only exercises requiring this equipment; `none` for exercises that need nothing.",
            examples=["step"],
        ),
    ] = None,
    available_equipment: Annotated[
        list[str] | None,
        Query(
            max_length=50,
            description="Only exercises doable with this equipment (repeat the parameter); add nothing else.",
            examples=[["step", "dumbbell"]],
        ),
    ] = None,
    level: Annotated[Level | None, Query(description="Only exercises of this level.")] = None,
    laterality: Annotated[
        Laterality | None, Query(description="Only bilateral, unilateral or alternating exercises.")
    ] = None,
    max_achilles_tier: Annotated[
        int | None,
        Query(
            ge=1,
            le=5,
            description="Only exercises graded for Achilles load at or below this tier (1 gentlest, 5 hardest).",
        ),
    ] = None,
) -> Response:
    """Exercises by name. Filters combine with AND."""
    filters = service.ExerciseFilters(
        q=q,
        muscle=muscle,
        muscle_role=muscle_role,
        injury=injury,
        loading_type=loading_type,
        equipment=equipment,
        available_equipment=tuple(available_equipment or ()),
        level=level,
        laterality=laterality,
        max_achilles_tier=max_achilles_tier,
    )
    items, total = await read(session, service.list_exercises, session, page, filters)
    return page_answer(request, page, items, total)


@router.get(
    "/exercises/{slug}",
    tags=["exercises"],
    responses=READ_RESPONSES,
    summary="Get an exercise",
    response_model=s.ExercisePublic,
)
async def get_exercise(session: DbSession, slug: SlugPath) -> Response:
    """How to do it, its default dose, the muscles it works, the injuries it helps and its progressions."""
    return json_answer(await read(session, service.get_exercise, session, slug))


@router.get(
    "/exercises/{slug}/progressions",
    tags=["exercises"],
    responses=READ_RESPONSES,
    summary="Get an exercise's progressions and regressions",
    response_model=s.ExerciseProgressions,
)
async def get_exercise_progressions(session: DbSession, slug: SlugPath) -> Response:
    """The harder exercises to move on to and the easier ones to step back to, each with its criterion."""
    return json_answer(await read(session, service.get_exercise_progressions, session, slug))


@router.get(
    "/progressions",
    tags=["exercises"],
    responses=READ_RESPONSES,
    summary="List progression edges",
    response_model=Page[s.ProgressionPublic],
)
async def list_progressions(request: Request, session: DbSession, page: Paging) -> Response:
    """Every edge of the progression graph (easier -> harder); the graph has no cycle."""
    items, total = await read(session, service.list_progressions, session, page)
    return page_answer(request, page, items, total)


# ---------------------------------------------------------------- protocols


@router.get(
    "/protocols",
    tags=["protocols"],
    responses=READ_RESPONSES,
    summary="List protocols",
    response_model=Page[s.ProtocolPublic],
)
async def list_protocols(
    request: Request,
    session: DbSession,
    page: Paging,
    kind: Annotated[
        Literal["achilles-tendinopathy", "tendon-conditioning", "runner-strength"] | None,
        Query(description="Only protocols of this kind."),
    ] = None,
) -> Response:
    """Named, evidence-based loading protocols with their stages and prescriptions."""
    items, total = await read(session, service.list_protocols, session, page, kind)
    return page_answer(request, page, items, total)


@router.get(
    "/protocols/{slug}",
    tags=["protocols"],
    responses=READ_RESPONSES,
    summary="Get a protocol",
    response_model=s.ProtocolPublic,
)
async def get_protocol(session: DbSession, slug: SlugPath) -> Response:
    """Its frequency, pain rules and stages, each with its doses and its entry and exit criteria."""
    return json_answer(await read(session, service.get_protocol, session, slug))
