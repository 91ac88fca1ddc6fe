"""Writes queued with ``Direct.later`` (app.core.batched): on PostgreSQL sent together as one
statement before the connection's next statement or commit, elsewhere at once; either way
stored, seen, counted, refused and rolled back as if each had run when it was made."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.accounts.models import User
from app.core import batched, idempotency
from app.core.db import table_of
from app.core.direct import Direct
from app.core.errors import Conflict
from tests.conftest import register, session_with_tables
from tests.training.test_log import workout

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")  # tables of this worker's: tests run side by side
metadata = sa.MetaData()
parent = sa.Table(
    f"batched_parent_{WORKER}",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("label", sa.String(20), nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
)
child = sa.Table(
    f"batched_child_{WORKER}",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("parent_id", sa.Uuid, sa.ForeignKey(parent.c.id), nullable=False),
    sa.Column("ratio", sa.Float, nullable=True),
    sa.Column("reps", sa.Integer, nullable=True),
    sa.Column("done", sa.Boolean, nullable=False),
)
PARENT = Direct(sa.insert(parent).values({c.name: sa.bindparam(c.name) for c in parent.columns}))
CHILDREN = Direct(sa.insert(child).values({c.name: sa.bindparam(c.name) for c in child.columns}))
RELABEL = Direct(sa.update(parent).where(parent.c.id == sa.bindparam("pid")).values(label=sa.bindparam("new")))
HIT = Direct(
    lambda insert: (
        insert(parent)
        .values(id=sa.bindparam("id"), label="hit", hits=1)
        .on_conflict_do_update(index_elements=[parent.c.id], set_={"hits": parent.c.hits + 1})
    )
)
LABEL = Direct(sa.select(parent.c.label, parent.c.hits).where(parent.c.id == sa.bindparam("id")))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_with_tables(engine, metadata) as session:
        yield session


class Sent:
    """The statements the engine sends meanwhile."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sql: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sql.append(" ".join(statement.split()))

    def __enter__(self) -> Sent:
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def writing(self, table: sa.Table) -> list[str]:
        return [sql for sql in self.sql if f"INSERT INTO {table.name} " in sql or f"UPDATE {table.name} " in sql]


def one(label: str = "a") -> dict[str, Any]:
    return {"id": uuid.uuid4(), "label": label, "hits": 0}


def children_of(parent_id: uuid.UUID) -> list[dict[str, Any]]:
    # A float column given an int among its floats, and a column of nothing but None.
    return [
        {"id": uuid.uuid4(), "parent_id": parent_id, "ratio": ratio, "reps": None, "done": i % 2 == 0}
        for i, ratio in enumerate([1.5, 2, None])
    ]


def stored(engine: Engine, table: sa.Table) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table).order_by(*table.primary_key.columns)))


def test_queued_writes_go_as_one_statement_on_postgresql_and_at_once_on_sqlite(
    session: Session, engine: Engine, backend: str
) -> None:
    first, other = one("first"), one("other")
    PARENT.run(session, other)
    session.commit()
    rows = children_of(first["id"])
    with Sent(engine) as sent:
        PARENT.later(session, first)
        CHILDREN.later(session, rows)  # rows that refer to a row of the same statement
        RELABEL.later(session, {"pid": other["id"], "new": "renamed"})
        queued = len(sent.sql)
        session.commit()
    written = sent.writing(parent) + sent.writing(child)
    if backend == "postgresql":
        assert queued == 0, "nothing sent before the commit"
        assert len(set(written)) == 1, sent.sql
        assert written[0].startswith("WITH ")
    else:
        assert queued == 3, sent.sql
    assert {r.label for r in stored(engine, parent)} == {"first", "renamed"}
    kept = {r.id: r for r in stored(engine, child)}
    for given in rows:
        got = kept[given["id"]]
        assert (got.parent_id, got.ratio, got.reps, got.done) == (
            given["parent_id"],
            None if given["ratio"] is None else float(given["ratio"]),
            None,
            given["done"],
        )


def test_a_statement_after_queued_writes_sees_them(session: Session) -> None:
    first = one("seen")
    PARENT.later(session, first)
    assert LABEL.rows(session, {"id": first["id"]})[0].label == "seen"  # a direct read
    counted = session.execute(sa.select(sa.func.count()).select_from(parent)).scalar_one()  # SQLAlchemy's own
    assert counted == 1
    RELABEL.later(session, {"pid": first["id"], "new": "changed"})  # a row written before, sent by now
    session.commit()
    assert [r.label for r in stored(session.get_bind(), parent)] == ["changed"]  # type: ignore[arg-type]


def test_a_rollback_drops_what_was_queued(session: Session, engine: Engine) -> None:
    dropped, kept = one("dropped"), one("kept")
    with Sent(engine) as sent:
        PARENT.later(session, dropped)
        session.rollback()
        PARENT.later(session, kept)
        session.commit()
    assert [r.label for r in stored(engine, parent)] == ["kept"]
    assert not any(str(dropped["id"]) in sql for sql in sent.sql)


def test_a_savepoint_rolled_back_drops_only_what_was_queued_inside_it(session: Session, engine: Engine) -> None:
    before, inside = one("before"), one("inside")
    PARENT.later(session, before)
    savepoint = session.begin_nested()
    PARENT.later(session, inside)
    savepoint.rollback()
    session.commit()
    assert [r.label for r in stored(engine, parent)] == ["before"]


def relabel_nobody_and_commit(
    session: Session, committing: Session | sa.Connection | None = None, **options: Any
) -> None:
    """A write of no row queued, then the commit (the session's, or its connection's)."""
    RELABEL.later(session, {"pid": uuid.uuid4(), "new": "nobody"}, **options)  # no such row
    (committing or session).commit()


def test_a_write_that_changes_another_number_of_rows_fails_and_stores_nothing(
    session: Session, engine: Engine, backend: str
) -> None:
    PARENT.later(session, one("alone"))
    with pytest.raises(batched.LostWrite) as lost:  # raised by later() on SQLite, by the commit on PostgreSQL
        relabel_nobody_and_commit(session)
    assert lost.value.status == 409
    session.rollback()
    assert stored(engine, parent) == []

    class Mine(Conflict):
        pass

    PARENT.later(session, one("again"))
    with pytest.raises(Mine):
        relabel_nobody_and_commit(session, lost=lambda: Mine("gone"))
    session.rollback()
    assert stored(engine, parent) == []


def orphans_and_commit(session: Session) -> None:
    CHILDREN.later(session, children_of(uuid.uuid4()))  # no such parent: the foreign key refuses them
    session.commit()


def test_a_refused_write_fails_at_its_send_and_stores_nothing_of_the_transaction(
    session: Session, engine: Engine
) -> None:
    taken = one("taken")
    PARENT.run(session, taken)
    session.commit()
    PARENT.later(session, one("new"))
    with pytest.raises(IntegrityError):  # raised by later() on SQLite, by the commit on PostgreSQL
        orphans_and_commit(session)
    session.rollback()
    assert [r.label for r in stored(engine, parent)] == ["taken"]
    assert stored(engine, child) == []


def test_the_same_write_twice_is_sent_in_turn(session: Session, engine: Engine, backend: str) -> None:
    """Two upserts of one row cannot be members of one statement: the second sends the
    first before it is queued, and both count."""
    counter = uuid.uuid4()
    with Sent(engine) as sent:
        HIT.later(session, {"id": counter})
        PARENT.later(session, one("beside"))
        HIT.later(session, {"id": counter})
        HIT.later(session, {"id": counter})
        session.commit()
    assert LABEL.rows(session, {"id": counter})[0].hits == 3
    session.rollback()
    if backend == "postgresql":
        assert len(sent.writing(parent)) == 3, sent.sql


def test_a_connection_given_back_with_writes_queued_sends_none_of_them(engine: Engine) -> None:
    metadata.create_all(engine)
    try:
        lost = one("lost")
        with Session(engine) as first:
            PARENT.later(first, lost)  # the session closed without a commit
        with Session(engine) as second:
            PARENT.later(second, one("second"))
            second.commit()
        assert [r.label for r in stored(engine, parent)] == ["second"]
    finally:
        metadata.drop_all(engine)


def test_only_writes_it_can_combine_are_queued() -> None:
    assert batched.can_queue("INSERT INTO t (a, b) VALUES (%(a)s::UUID, %(b)s)", many=True)
    assert not batched.can_queue("INSERT INTO t (a) VALUES (%(a)s) RETURNING t.a", many=True)
    assert not batched.can_queue("INSERT INTO t (a) VALUES (now())", many=True)
    counted = "WITH n AS (UPDATE c SET x = x + 1 RETURNING x) INSERT INTO t (a) SELECT x FROM n"
    assert batched.can_queue(counted, many=False)
    assert not batched.can_queue("UPDATE q1 SET a = %(a)s", many=False), "a table named like a member"


def test_a_workout_is_written_in_one_statement_on_postgresql(client: TestClient, engine: Engine, backend: str) -> None:
    """A workout's row, its sets, its event, its Idempotency-Key with the stored answer and
    the change's number go as one statement; what the runner reads afterwards is as before,
    and a retry is answered the first answer."""
    runner = register(client)
    headers = {**runner.headers, "Idempotency-Key": uuid.uuid4().hex}
    with Sent(engine) as sent:
        made = client.post("/v1/athletes/me/workouts", json=workout(), headers=headers)
    assert made.status_code == 201, made.text
    # Not the expired keys' purge, which any keyed request may run (at most once a minute a process).
    purge = "DELETE FROM idempotency_key WHERE idempotency_key.created_at <"
    writes = [s for s in sent.sql if s.startswith(("INSERT", "UPDATE", "WITH", "DELETE")) and not s.startswith(purge)]
    if backend == "postgresql":
        assert len(writes) == 1, writes  # the Idempotency-Key's answer goes with the rest: no claim first
        tables = ("workout", "workout_set", "outbox_event", "sync_counter", "idempotency_key")
        assert all(f"AS (INSERT INTO {t} " in writes[0] for t in tables), writes[0]
    again = client.post("/v1/athletes/me/workouts", json=workout(), headers=headers)
    assert again.json() == made.json() and again.headers["Idempotent-Replayed"] == "true"
    read = client.get(made.headers["Location"], headers=runner.headers)
    assert read.json() == made.json()
    feed = client.get("/v1/athletes/me/changes", headers=runner.headers).json()
    assert [(c["id"], c["op"], c["version"]) for c in feed["changes"]] == [(made.json()["id"], "upsert", 1)]


@pytest.fixture
def user_id(engine: Engine) -> Iterator[uuid.UUID]:
    """A user of the shared database, committed (the keys below are committed too)."""
    made = uuid.uuid4()
    users = table_of(User)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            users.insert()
            .values(id=made, email=f"{made.hex}@example.com", password_hash="-", display_name="x")
            .values(created_at=now, updated_at=now)
        )
    try:
        yield made
    finally:
        with engine.begin() as connection:
            connection.execute(sa.delete(users).where(users.c.id == made))  # its keys go with it


def test_a_retry_while_the_first_request_commits_waits_for_it_and_replays_its_answer(
    session: Session, engine: Engine, user_id: uuid.UUID
) -> None:
    """The first request's key is written and not yet committed when its retry arrives: the
    retry waits for it, then answers the first answer and stores nothing of its own (on
    PostgreSQL its work ran, its answer went with it, met the key and was undone)."""
    key, fingerprint, now = uuid.uuid4().hex, "same body", datetime.now(UTC)
    first = {"status_code": 201, "body": {"made": "first"}, "headers": {"Location": "/first"}}
    with Session(engine) as holding:
        idempotency._DONE.run(  # what the first request's last statement writes
            holding,
            {"user_id": user_id, "key": key, "fingerprint": fingerprint, "state": "done", **first}
            | {"created_at": now, "lease_until": now},
        )
        ran: list[str] = []

        def work() -> tuple[int, dict[str, Any], dict[str, str]]:
            PARENT.later(session, one("retry"))
            ran.append("work")
            return 201, {"made": "retry"}, {"Location": "/retry"}

        with ThreadPoolExecutor(1) as pool:
            retry = pool.submit(idempotency.run_once, session, user_id, key, fingerprint, timedelta(seconds=30), work)
            time.sleep(0.5)
            assert not retry.done(), "the retry waits for the first request"
            holding.commit()
            answered = retry.result(timeout=30)
    assert (answered.replayed, answered.status_code, answered.body, answered.headers) == (
        True,
        201,
        {"made": "first"},
        {"Location": "/first"},
    )
    assert stored(engine, parent) == []


def test_a_read_after_queued_writes_is_not_a_transaction_of_its_own(session: Session, engine: Engine) -> None:
    """A plain SELECT on PostgreSQL before a session's first write runs on its own, without
    BEGIN; queued writes are the session's first writes: they go first, in its transaction,
    and its rollback undoes them."""
    queued = one("queued")
    PARENT.later(session, queued)
    assert LABEL.rows(session, {"id": queued["id"]})[0].label == "queued"
    session.rollback()
    assert stored(engine, parent) == []


def test_a_rollback_of_a_connection_drops_what_its_session_queued(engine: Engine) -> None:
    metadata.create_all(engine)
    try:
        dropped, kept = one("dropped"), one("kept")
        with engine.connect() as connection:
            bound = Session(bind=connection)
            PARENT.later(bound, dropped)
            bound.rollback()
            connection.execute(parent.insert().values(**kept))  # the same connection, not given back
            connection.commit()
        assert [r.label for r in stored(engine, parent)] == ["kept"]
    finally:
        metadata.drop_all(engine)


def test_a_connection_given_back_to_the_pool_keeps_no_queue(session: Session, engine: Engine, backend: str) -> None:
    if backend == "sqlite":  # nothing is ever queued there: each write runs at once
        PARENT.later(session, one("at once"))
        assert not batched.pending(session.connection())
        return
    pooled = engine.raw_connection()
    record = pooled.info  # the pooled connection's own, kept from one checkout to the next
    record[batched._QUEUE] = ["a write that never went"]
    try:
        pooled.close()
        assert batched._QUEUE not in record
    finally:
        record.pop(batched._QUEUE, None)


def test_what_a_savepoint_rolled_back_queued_is_never_sent(session: Session, engine: Engine, backend: str) -> None:
    with Sent(engine) as sent:
        PARENT.later(session, one("before"))
        savepoint = session.begin_nested()
        PARENT.later(session, one("inside"))
        savepoint.rollback()
        session.commit()
    assert len(sent.writing(parent)) == (1 if backend == "postgresql" else 2), sent.sql


@pytest.mark.parametrize(
    "rows",
    [
        [{"id": uuid.uuid4(), "label": "x" * 25, "hits": 1}],  # longer than the column
        [{"id": uuid.uuid4(), "label": "a", "hits": True}, {"id": uuid.uuid4(), "label": "b", "hits": 2}],
        [{"id": uuid.uuid4(), "label": "a", "hits": 1}, {"id": uuid.uuid4(), "label": "b", "hits": "2"}],
    ],
    ids=["too-long", "bool-and-int", "str-and-int"],
)
def test_many_rows_queued_are_refused_or_stored_as_at_once(
    session: Session, engine: Engine, rows: list[dict[str, Any]]
) -> None:
    """Values a column's array would take otherwise (cut short by a cast, or of two types)
    are refused or stored exactly as the same rows run at once."""

    def outcome(write: Any) -> Any:
        try:
            write(session, rows)
            session.commit()
        except Exception as failed:
            session.rollback()
            return type(failed)
        kept = [(r.label, r.hits) for r in stored(engine, parent)]
        session.execute(parent.delete())
        session.commit()
        return kept

    assert outcome(PARENT.later) == outcome(PARENT.run)


def test_a_retry_whose_work_fails_replays_the_first_answer(session: Session, user_id: uuid.UUID) -> None:
    """A retry's work may fail because its first run stored what it did (a row with the
    same id), or for any other reason: the retry still answers the first answer."""
    key, fingerprint = uuid.uuid4().hex, "same body"
    made = one("first")

    def first() -> tuple[int, dict[str, Any], dict[str, str]]:
        PARENT.later(session, made)
        return 201, {"made": "first"}, {}

    def again() -> tuple[int, dict[str, Any], dict[str, str]]:
        PARENT.later(session, made)  # the same id: refused by the primary key
        return 201, {"made": "again"}, {}

    def broken() -> tuple[int, dict[str, Any], dict[str, str]]:
        raise ValueError("a bug")

    lease = timedelta(seconds=30)
    assert not idempotency.run_once(session, user_id, key, fingerprint, lease, first).replayed
    for work in (again, broken):
        answered = idempotency.run_once(session, user_id, key, fingerprint, lease, work)
        assert (answered.replayed, answered.body) == (True, {"made": "first"})
    assert [r.label for r in stored(session.get_bind(), parent)] == ["first"]  # type: ignore[arg-type]


class AtTheCommit:
    """Whether the driver had a transaction open when each commit came (psycopg's
    transaction status: 0 idle, 2 in a transaction), after the queue was sent: idle means
    no BEGIN was sent, and so no COMMIT will be. Recorded on PostgreSQL only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.status: list[int] = []
        event.listen(engine, "commit", self._seen)  # after the queue's own listener

    def _seen(self, conn: Any) -> None:
        if conn.dialect.name == "postgresql":
            self.status.append(int(conn.connection.dbapi_connection.info.transaction_status))

    def __enter__(self) -> AtTheCommit:
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "commit", self._seen)


IDLE, IN_TRANSACTION = 0, 2


class ParentRow:
    """``parent``'s rows as ORM objects: what a session's commit flushes after its listeners."""

    id: uuid.UUID
    label: str
    hits: int


sa.orm.registry().map_imperatively(ParentRow, parent)


def test_writes_queued_alone_are_sent_at_the_commit_as_a_transaction_of_their_own(
    session: Session, engine: Engine, backend: str
) -> None:
    """When the queue is all a transaction writes (what ran before it were reads, each a
    transaction of its own), its statement goes without BEGIN and COMMIT; with a write run
    at once before it, inside the transaction. Either way everything is stored."""
    first, second, earlier = one("first"), one("second"), one("earlier")
    with AtTheCommit(engine) as alone:
        assert LABEL.rows(session, {"id": first["id"]}) == []  # a read before: its own transaction
        PARENT.later(session, first)
        CHILDREN.later(session, children_of(first["id"]))
        session.commit()
    with AtTheCommit(engine) as inside:
        PARENT.run(session, earlier)
        PARENT.later(session, second)
        CHILDREN.later(session, children_of(second["id"]))
        session.commit()
    if backend == "postgresql":
        assert (alone.status, inside.status) == ([IDLE], [IN_TRANSACTION])
    else:
        assert alone.status == inside.status == []
    assert {r.label for r in stored(engine, parent)} == {"first", "second", "earlier"}
    assert len(stored(engine, child)) == 6


def test_a_lost_count_inside_a_transaction_fails_it_and_stores_nothing(session: Session, engine: Engine) -> None:
    PARENT.run(session, one("run at once"))  # the transaction is open: the queue is sent inside it
    PARENT.later(session, one("queued"))
    with pytest.raises(batched.LostWrite):
        relabel_nobody_and_commit(session)
    session.rollback()
    assert stored(engine, parent) == []


def test_objects_the_commit_flushes_are_in_the_queued_writes_transaction(
    session: Session, engine: Engine, backend: str
) -> None:
    """The ORM flushes a session's new objects after the commit's listeners: queued writes
    are then sent inside the transaction, so a flush that fails undoes them too."""
    queued = one("queued")
    with AtTheCommit(engine) as sent:
        PARENT.later(session, queued)
        session.add(ParentRow(**one("flushed")))
        session.commit()
        PARENT.later(session, one("undone"))
        session.add(ParentRow(**queued))  # the id of a stored row: the flush fails
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
    assert sent.status == ([IN_TRANSACTION] if backend == "postgresql" else [])  # the failed one never commits
    assert {r.label for r in stored(engine, parent)} == {"queued", "flushed"}


def test_a_connection_of_another_isolation_level_keeps_the_queue_in_its_transaction(
    session: Session, engine: Engine, backend: str
) -> None:
    """Only at READ COMMITTED is a lone statement the same as a transaction of one: at
    another level the statement is sent inside the transaction the level was asked for."""
    session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
    with AtTheCommit(engine) as sent:
        PARENT.later(session, one("repeatable"))
        session.commit()
    assert sent.status == ([IN_TRANSACTION] if backend == "postgresql" else [])
    assert [r.label for r in stored(engine, parent)] == ["repeatable"]


def test_a_core_connections_commit_sends_the_queue_alone_and_its_failure_stores_nothing(
    engine: Engine, backend: str
) -> None:
    """A session bound to a connection whose owner commits it: the connection's commit
    sends the queue, as a transaction of its own, counted by the statement itself."""
    metadata.create_all(engine)
    try:
        kept, undone = one("kept"), one("undone")
        with AtTheCommit(engine) as sent, engine.connect() as connection:
            connection.begin()
            bound = Session(bind=connection)  # joins the connection's transaction
            PARENT.later(bound, kept)
            connection.commit()
            connection.begin()
            PARENT.later(bound, undone)
            with pytest.raises(batched.LostWrite):  # on SQLite raised by later() itself
                relabel_nobody_and_commit(bound, connection)
            connection.rollback()
        assert sent.status == ([IDLE] if backend == "postgresql" else [])  # the failed one never commits
        assert [r.label for r in stored(engine, parent)] == ["kept"]
    finally:
        metadata.drop_all(engine)


BUMP_PREFIXED = Direct(
    sa.update(parent)
    .where(parent.c.label.like(sa.literal_column("'pre%'")), parent.c.hits < sa.bindparam("by") * 3)
    .values(hits=parent.c.hits + sa.bindparam("by"))
)


def test_a_literal_percent_and_a_parameter_used_twice_are_sent_as_written(
    session: Session, engine: Engine, backend: str
) -> None:
    """The combined statement goes with PostgreSQL's own placeholders: a ``%`` in a
    member's SQL stays one, and a parameter the member uses twice is one value."""
    PARENT.run(session, {"id": uuid.uuid4(), "label": "prefixed", "hits": 1})
    PARENT.run(session, {"id": uuid.uuid4(), "label": "other", "hits": 1})
    session.commit()
    with Sent(engine) as sent:
        PARENT.later(session, one("beside"))
        BUMP_PREFIXED.later(session, {"by": 4})
        HIT.later(session, {"id": uuid.uuid4()})
        session.commit()
    assert sorted((r.label, r.hits) for r in stored(engine, parent)) == [
        ("beside", 0),
        ("hit", 1),
        ("other", 1),
        ("prefixed", 5),
    ]
    if backend == "postgresql":
        (combined,) = sent.writing(parent)
        assert "LIKE 'pre%'" in combined and "%(" not in combined, combined


def commit_a_bound_session_in_a_failing_block(engine: Engine) -> None:
    with engine.begin() as connection:
        bound = Session(bind=connection, join_transaction_mode="rollback_only")
        PARENT.later(bound, one("begun"))
        bound.commit()
        raise RuntimeError("the block fails: engine.begin() rolls back")


def test_a_session_joined_to_an_outer_transaction_leaves_its_queue_to_that_transaction(engine: Engine) -> None:
    """The session's commit does not commit a connection it joined: the queue waits for the
    connection's commit, or goes with its rollback (on SQLite the write ran in it)."""
    metadata.create_all(engine)
    try:
        with engine.connect() as connection:
            connection.begin()
            bound = Session(bind=connection)  # joins the connection's transaction
            PARENT.later(bound, one("outer"))
            bound.commit()
            connection.rollback()
        with pytest.raises(RuntimeError):
            commit_a_bound_session_in_a_failing_block(engine)
        assert stored(engine, parent) == []
    finally:
        metadata.drop_all(engine)


def failing_audit(session: Session) -> None:
    """A before_commit listener of the session's own, registered after the queue's: its
    insert refers to no parent, so the commit fails."""
    session.execute(child.insert().values(id=uuid.uuid4(), parent_id=uuid.uuid4(), done=True))


def test_a_statement_a_later_listener_runs_at_the_commit_is_in_the_queues_transaction(
    session: Session, engine: Engine
) -> None:
    event.listen(session, "before_commit", failing_audit)
    try:
        PARENT.later(session, one("queued"))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
    finally:
        event.remove(session, "before_commit", failing_audit)
    assert stored(engine, parent) == []


def test_a_read_only_connection_refuses_what_was_queued(session: Session, engine: Engine, backend: str) -> None:
    """PostgreSQL makes a connection read-only with its BEGIN: the queue is sent inside
    that transaction, which refuses it. SQLite has no such option: the write is stored."""
    session.connection(execution_options={"postgresql_readonly": True})
    PARENT.later(session, one("read only"))
    if backend == "postgresql":
        with pytest.raises(sa.exc.InternalError, match="read-only"):
            session.commit()
        session.rollback()
        assert stored(engine, parent) == []
    else:
        session.commit()
        assert [r.label for r in stored(engine, parent)] == ["read only"]


def test_an_autocommit_connection_stays_autocommit_after_its_queue(engine: Engine, backend: str) -> None:
    """On PostgreSQL a statement after the queue's is committed as it runs, as before it.
    (The service's SQLite engine begins each transaction itself, whatever the level: there
    the statement after is rolled back with the connection, as it always was.)"""
    metadata.create_all(engine)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            bound = Session(bind=connection)
            PARENT.later(bound, one("queued"))
            bound.commit()
            connection.execute(parent.insert().values(**one("after")))
        kept = {"queued", "after"} if backend == "postgresql" else {"queued"}
        assert {r.label for r in stored(engine, parent)} == kept
    finally:
        metadata.drop_all(engine)


def test_a_workout_on_a_service_of_its_own_is_written_alone_and_answered_as_before(
    settings: Any, engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service as deployed (its sessions its own, not a test's transaction): on
    PostgreSQL a workout's create, keyed or not, commits with no transaction open on the
    driver (its one statement was its transaction), the second from the names' copy; the
    records, the replay and the change feed are as on SQLite."""
    from app.main import create_app

    monkeypatch.setattr(idempotency, "_last_purge", [time.monotonic()])  # no purge in between
    with TestClient(create_app(settings, engine)) as client:
        runner = register(client)
        keyed = {**runner.headers, "Idempotency-Key": uuid.uuid4().hex}
        with AtTheCommit(engine) as commits:
            first = client.post("/v1/athletes/me/workouts", json=workout(), headers=keyed)
            second = client.post("/v1/athletes/me/workouts", json=workout(notes="two"), headers=runner.headers)
        assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
        if backend == "postgresql":
            assert commits.status.count(IDLE) >= 2 and IN_TRANSACTION not in commits.status, commits.status
        replay = client.post("/v1/athletes/me/workouts", json=workout(), headers=keyed)
        assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
        listed = client.get("/v1/athletes/me/workouts", headers=runner.headers).json()["items"]
        assert [w["id"] for w in listed] == [second.json()["id"], first.json()["id"]]
        assert listed[1] == first.json() and listed[0]["notes"] == "two"
        feed = client.get("/v1/athletes/me/changes", headers=runner.headers).json()["changes"]
        assert [c["id"] for c in feed] == [first.json()["id"], second.json()["id"]]
