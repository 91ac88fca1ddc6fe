"""Statements a transaction runs last, just before it commits.

A per-athlete counter (the change feed's next number) is a row that every write of that
athlete updates: the first writer's update locks it until its transaction ends, and the
others wait. Updated as soon as a record was written, the row stayed locked through the
rest of the write (its event, the stored idempotent response, the answer rendered) and
the commit; on PostgreSQL eight concurrent writes of one athlete spent most of their time
waiting on it (``Lock:transactionid`` in ``pg_stat_activity``). Taken last, it is held
for one statement and the commit.

:func:`run_last` queues ``work(session)`` for the session's current transaction; it runs
when that transaction commits (SQLAlchemy's ``before_commit``, before the ORM's final
flush), in the order queued. A transaction that rolls back drops what it queued, and a
savepoint rolled back drops what was queued within it: the work is tied to the
transaction it was queued in, never run in a later one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

S = TypeVar("S", bound=Session)
Work = Callable[[Any], None]
_KEY = "runstrong.run_last"


def run_last(session: S, work: Callable[[S], None]) -> None:
    """Run ``work(session)`` when the session's current transaction commits, after all
    else it does and before the commit itself. Queued inside a savepoint that is rolled
    back, it is dropped with what the savepoint undid."""
    transaction = session.get_transaction()
    if transaction is None:  # nothing begun yet: the work starts it now, as any statement would
        transaction = session.begin()
    queued: tuple[SessionTransaction, list[tuple[SessionTransaction | None, Work]]] | None = session.info.get(_KEY)
    if queued is None or queued[0] is not transaction:
        queued = session.info[_KEY] = (transaction, [])
    queued[1].append((session.get_nested_transaction(), work))


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    queued: tuple[SessionTransaction, list[tuple[SessionTransaction | None, Work]]] | None = session.info.get(_KEY)
    if queued is None:
        return
    transaction, works = queued
    if transaction is not session.get_transaction():
        del session.info[_KEY]  # queued in a transaction that has ended (rolled back)
        return
    if session.get_nested_transaction() is not None:
        return  # a savepoint's release: the transaction goes on
    del session.info[_KEY]
    for _, work in works:
        work(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, rolled_back: SessionTransaction) -> None:
    """Drop what was queued in the transaction rolled back, or in a savepoint within it."""
    queued: tuple[SessionTransaction, list[tuple[SessionTransaction | None, Work]]] | None = session.info.get(_KEY)
    if queued is None:
        return
    transaction, works = queued
    if transaction is not session.get_transaction() or rolled_back is transaction:
        del session.info[_KEY]
        return
    works[:] = [(where, work) for where, work in works if not _within(where, rolled_back)]


def _within(where: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while where is not None:
        if where is rolled_back:
            return True
        where = where.parent
    return False
