"""Work that took rows from a process's copy instead of reading them, and is done again
if the copy turned out to be outdated.

A write may answer with rows it did not read (a workout's exercises' names, from a copy
kept by each process) when it checks, with its own writes, that what the copy came from
has not changed since (``Direct.later`` of a read that must find its row: on PostgreSQL
that check is one more member of the write's one statement, no round trip of its own).
If it has changed, the check raises :class:`Outdated` and nothing of the write is stored.
The unit of work that ran it (``idempotency.run_once``) then rolls back and does the work
once more, :func:`redoable` now false, so the work reads what it needs: the client never
sees it. Elsewhere (a caller that did not mark its work redoable) the copy is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from app.core.errors import Conflict

_REDOABLE = "runstrong.redoable"  # session.info: the work may use a copy; an Outdated redoes it


class Outdated(Conflict):
    """A copy the work used had changed: its writes are undone. Raised past a unit of work
    that cannot redo the work, it is a 409 that a retry resolves."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} changed during the request; retry it.", headers={"Retry-After": "0"})


@contextmanager
def redoing(session: Session) -> Iterator[None]:
    """The work done inside may use copies, checked with its writes (see the module's notes)."""
    session.info[_REDOABLE] = True
    try:
        yield
    finally:
        session.info.pop(_REDOABLE, None)


def redoable(session: Session) -> bool:
    """Whether the work on ``session`` is done again if a copy it used is :class:`Outdated`."""
    return bool(session.info.get(_REDOABLE))
