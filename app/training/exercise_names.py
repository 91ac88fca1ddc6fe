"""The names of the exercises a workout's sets name: what its answer shows, and whether
each slug is an exercise at all.

Reading them was one of a PostgreSQL workout write's four round trips, each of which costs
a served write more than its statement (bench/README.md, thirty-fourth round). So each
process keeps a copy of the names it has read, tagged with the catalogue's version (the
hash of its content in ``catalogue_meta``, which ``runstrong seed`` changes in the same
transaction as the exercises; nothing else writes the catalogue). Work that can be done
again (``app.core.redo``: a record's create) on PostgreSQL takes the names from the copy
when it has them all, and checks with its writes, as one more member of their one
statement (``Direct.later``), that the catalogue is still at that version. If it is not,
nothing is stored, the copy is dropped and the work is done again, reading the names.
Anywhere else, or for a slug the copy lacks, the names are read, with the version in the
same statement (one snapshot: names and version always belong together), which renews the
copy.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from app.catalogue.models import CatalogueMeta, Exercise
from app.catalogue.seed import VERSION_KEY
from app.core.db import table_of
from app.core.direct import Direct
from app.core.redo import Outdated, redoable

_EXERCISE = table_of(Exercise)
_META = table_of(CatalogueMeta)
_VERSION = sa.select(_META.c.value).where(_META.c.key == VERSION_KEY).scalar_subquery()
_NAMES_OF = Direct(
    sa.select(_EXERCISE.c.slug, _EXERCISE.c.name, _VERSION.label("version")).where(
        _EXERCISE.c.slug.in_(sa.bindparam("slugs", expanding=True))
    )
)
_AT_VERSION = Direct(sa.select(_META.c.key).where(_META.c.key == VERSION_KEY, _META.c.value == sa.bindparam("version")))


@dataclass(frozen=True, slots=True)
class _Copy:
    version: str
    names: dict[str, str]  # by slug


_kept: list[_Copy | None] = [None]  # replaced whole, never changed in place: threads share it


def names_of(session: Session, slugs: Set[str]) -> dict[str, str]:
    """The names of those of ``slugs`` that are exercises, by slug."""
    copy = _kept[0]
    if copy is not None and slugs <= copy.names.keys() and redoable(session) and _AT_VERSION.queues(session):
        _AT_VERSION.later(session, {"version": copy.version}, lost=_outdated)
        return {slug: copy.names[slug] for slug in slugs}
    rows = _NAMES_OF.rows(session, {"slugs": list(slugs)})
    if rows and rows[0].version is not None:
        version = rows[0].version
        kept = copy.names if copy is not None and copy.version == version else {}
        _kept[0] = _Copy(version, {**kept, **{row.slug: row.name for row in rows}})
    return {row.slug: row.name for row in rows}


def _outdated() -> Outdated:
    _kept[0] = None
    return Outdated("The exercise catalogue")
