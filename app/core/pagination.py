"""Limit/offset pagination with a total and RFC 8288 ``Link`` headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import Session

from app.core.direct import Direct
from app.core.media import json_answer

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_OFFSET = 1_000_000


class Page(BaseModel, Generic[T]):
    """One page of a list, in a stable order."""

    items: list[T] = Field(description="The records on this page.")
    total: int = Field(description="How many records match, over all pages.", examples=[87])
    limit: int = Field(description="The page size asked for.", examples=[20])
    offset: int = Field(description="How many matching records come before this page.", examples=[0])


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Records to skip before this page.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The two statements of a page of ``stmt`` in ``order`` (which must end in a unique
    column, so pages are stable): how many rows match in all, and one page of them, with
    the page's limit and offset bound. Build one once for a list read on every request
    the same way (building and keying the statements costs more than a small read)."""

    count: Any
    rows: Any

    @classmethod
    def of(cls, stmt: Any, *order: Any) -> PageQuery:
        return cls(
            count=select(func.count()).select_from(stmt.order_by(None).subquery()),
            rows=stmt.order_by(*order)
            .limit(bindparam("page_limit", type_=Integer))
            .offset(bindparam("page_offset", type_=Integer)),
        )

    def run(self, session: Session, params: PageParams) -> tuple[list[Any], int]:
        """One page of rows (single-column rows as their value) and the total."""
        total = session.execute(self.count).scalar_one()
        rows = session.execute(self.rows, {"page_limit": params.limit, "page_offset": params.offset}).all()
        return [row if len(row) > 1 else row[0] for row in rows], int(total)


@dataclass(frozen=True)
class DirectPageQuery:
    """A :class:`PageQuery` built once for a Core select of table columns, its two
    statements run on the driver (:mod:`app.core.direct`)."""

    count: Direct
    rows: Direct

    @classmethod
    def of(cls, stmt: Any, *order: Any) -> DirectPageQuery:
        query = PageQuery.of(stmt, *order)
        return cls(count=Direct(query.count), rows=Direct(query.rows))

    def run(self, session: Session, params: PageParams) -> tuple[list[Any], int]:
        """As :meth:`PageQuery.run`."""
        ((total,),) = self.count.rows(session)
        rows = self.rows.rows(session, {"page_limit": params.limit, "page_offset": params.offset})
        return [row if len(row) > 1 else row[0] for row in rows], int(total)


def page_rows(session: Session, stmt: Any, params: PageParams, *order: Any) -> tuple[list[Any], int]:
    """One page of ``stmt``'s rows in ``order`` and how many rows match in all (see
    :class:`PageQuery`), for a statement built for this request."""
    return PageQuery.of(stmt, *order).run(session, params)


def link_header(request: Request, params: PageParams, total: int) -> str:
    """``first``, ``prev``, ``next`` and ``last`` links keeping every other query parameter."""

    def url(offset: int) -> str:
        return str(request.url.include_query_params(limit=params.limit, offset=offset))

    links = [f'<{url(0)}>; rel="first"']
    if params.offset > 0:
        links.append(f'<{url(max(params.offset - params.limit, 0))}>; rel="prev"')
    if params.offset + params.limit < total:
        links.append(f'<{url(params.offset + params.limit)}>; rel="next"')
    last = max((total - 1) // params.limit * params.limit, 0)
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)


def paginate(request: Request, response: Response, params: PageParams, items: list[T], total: int) -> Page[T]:
    """Wrap one page of records and set its ``Link`` header."""
    response.headers["Link"] = link_header(request, params, total)
    return Page[T](items=items, total=total, limit=params.limit, offset=params.offset)


def page_answer(request: Request, params: PageParams, items: list[Any], total: int) -> Response:
    """One page of records written as the answer, with its ``Link`` header: the route
    declares its ``response_model`` (the contract), and the records are of that page's
    item model already, so nothing validates them again (see app/core/shortcut.py)."""
    page = Page[Any](items=items, total=total, limit=params.limit, offset=params.offset)
    # Content-Type named first: the headers in the order FastAPI's JSONResponse gave them.
    return json_answer(page, 200, {"Content-Type": "application/json", "Link": link_header(request, params, total)})
