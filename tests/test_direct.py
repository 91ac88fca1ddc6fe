"""Statements run on the driver (app.core.direct) answer as SQLAlchemy's own would: the same
values of the same types, the same errors, in the session's transaction, seen by listeners."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError, PendingRollbackError, StatementError
from sqlalchemy.orm import registry
from sqlmodel import Session

from app.catalogue.models import JSONType
from app.core.config import Settings
from app.core.db import UTCDateTime, build_engine
from app.core.direct import Direct
from tests.conftest import session_with_tables

metadata = sa.MetaData()
probe = sa.Table(
    f"direct_probe_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}",  # a table of this worker's: tests run side by side
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=True),
    sa.Column("data", JSONType, nullable=True),
    sa.Column("ratio", sa.Float, nullable=True),
    sa.Column("amount", sa.Numeric(6, 2), nullable=True),
    sa.Column("flag", sa.Boolean, nullable=True),
    sa.Column("label", sa.String(20), default="none"),
)
mapper = registry()


class ProbeRow:
    id: uuid.UUID
    label: str

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


mapper.map_imperatively(ProbeRow, probe)
COLUMNS = ("id", "at", "data", "ratio", "amount", "flag", "label")
INSERT = Direct(sa.insert(probe).values({name: sa.bindparam(name) for name in COLUMNS}))
BY_ID = Direct(sa.select(probe).where(probe.c.id == sa.bindparam("id")))
NEWEST = Direct(sa.select(probe.c.id, probe.c.ratio).order_by(probe.c.ratio.desc()).limit(2))
RENAME = Direct(sa.update(probe).where(probe.c.id == sa.bindparam("probe_id")).values(label=sa.bindparam("new_label")))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_with_tables(engine, metadata) as session:
        yield session


def row(**values: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "at": None,
        "data": None,
        "ratio": None,
        "amount": None,
        "flag": None,
        "label": "x",
    } | values


def test_rows_come_back_as_sqlalchemy_reads_them(session: Session) -> None:
    at = datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=UTC)
    first = row(at=at, data={"sets": [1, 2], "note": "é"}, ratio=0.25, amount=12.5, flag=True, label="a")
    second = row(data=[1, "two"], ratio=1.5, flag=False)
    INSERT.run(session, [first, second])  # executemany
    INSERT.run(session, row(ratio=-3.0))  # one
    for values in (first, second):
        direct = BY_ID.first(session, {"id": values["id"]})
        orm = session.execute(probe.select().where(probe.c.id == values["id"])).one()
        assert direct is not None
        assert tuple(direct) == tuple(orm)
        assert direct._fields == tuple(orm._fields)
        assert direct.id == values["id"] and isinstance(direct.id, uuid.UUID)
        # As dicts: the same values, each under its column's name.
        (mapping,) = BY_ID.dicts(session, {"id": values["id"]})
        assert mapping == dict(orm._mapping)
        assert [type(v) for v in mapping.values()] == [type(v) for v in orm]
    got = BY_ID.first(session, {"id": first["id"]})
    assert got is not None
    assert got.at == at and got.at.tzinfo is not None
    assert got.data == {"sets": [1, 2], "note": "é"}
    assert float(got.amount) == 12.5 and got.flag is True
    assert [r.ratio for r in NEWEST.rows(session)] == [1.5, 0.25]  # the LIMIT it binds itself
    assert BY_ID.first(session, {"id": uuid.uuid4()}) is None


def test_it_runs_in_the_sessions_transaction(session: Session) -> None:
    values = row(label="before")
    INSERT.run(session, values)
    assert session.in_transaction()
    assert RENAME.run(session, {"probe_id": values["id"], "new_label": "after"}) == 1  # rows changed
    assert RENAME.run(session, {"probe_id": uuid.uuid4(), "new_label": "after"}) == 0
    assert session.execute(sa.select(probe.c.label)).scalar_one() == "after"  # seen by the ORM's statements
    session.rollback()
    assert session.execute(sa.select(sa.func.count()).select_from(probe)).scalar_one() == 0  # and rolled back with them
    INSERT.run(session, values)
    session.commit()
    with Session(session.get_bind()) as other:
        assert other.execute(sa.select(probe.c.label)).scalar_one() == "before"


def test_the_drivers_errors_are_sqlalchemys(session: Session) -> None:
    values = row()
    INSERT.run(session, values)
    with pytest.raises(IntegrityError) as failed:
        INSERT.run(session, values)
    assert failed.value.statement is not None and probe.name in failed.value.statement
    session.rollback()
    INSERT.run(session, row())  # the session goes on after its rollback
    session.commit()


def test_a_failure_in_a_savepoint_is_rolled_back_to_it(session: Session) -> None:
    kept = row(label="kept")
    INSERT.run(session, kept)  # the transaction's first statement: before the savepoint

    def duplicate() -> None:
        with session.begin_nested():
            INSERT.run(session, row(label="gone"))
            INSERT.run(session, kept)  # a duplicate: the savepoint is rolled back, not the transaction

    with pytest.raises(IntegrityError):
        duplicate()
    INSERT.run(session, row(label="after"))  # PostgreSQL would refuse it in an aborted transaction
    session.commit()
    labels = sorted(session.execute(sa.select(probe.c.label)).scalars())
    assert labels == ["after", "kept"]


def test_on_a_core_connection_it_begins_a_transaction(engine: Engine, session: Session) -> None:
    with engine.connect() as connection:
        INSERT.run(connection, row(label="committed"))
        assert connection.in_transaction()
        connection.commit()
        INSERT.run(connection, row(label="rolled back"))
        connection.rollback()
    assert session.execute(sa.select(probe.c.label)).scalars().all() == ["committed"]


def test_listeners_see_its_statements(session: Session, engine: Engine) -> None:
    seen: list[tuple[str, bool]] = []

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool) -> None:
        seen.append((statement, many))

    session.connection()  # its transaction begun (SQLite's BEGIN is a statement too)
    event.listen(engine, "before_cursor_execute", before)
    try:
        INSERT.run(session, [row(), row()])
        BY_ID.first(session, {"id": uuid.uuid4()})
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert [many for _, many in seen] == [True, False]
    assert seen[0][0].startswith(f"INSERT INTO {probe.name}") and seen[1][0].startswith("SELECT")


def test_an_in_list_is_made_for_each_call(session: Session) -> None:
    values = [row(ratio=float(i)) for i in range(5)]
    INSERT.run(session, values)
    in_list = Direct(
        sa.select(probe.c.id, probe.c.ratio)
        .where(probe.c.id.in_(sa.bindparam("ids", expanding=True)), probe.c.ratio >= sa.bindparam("least"))
        .order_by(probe.c.ratio)
    )
    ids = [v["id"] for v in values]
    # Each length twice, with other values the second time: the SQL kept for a length is
    # given each call's own values.
    for wanted in ([ids[3], ids[1], ids[4]], [ids[0]], [], [ids[0], ids[2], ids[1]], [ids[4]], []):
        expected = session.execute(in_list._statement, {"ids": wanted, "least": 1.0}).all()  # type: ignore[arg-type]
        assert in_list.rows(session, {"ids": wanted, "least": 1.0}) == [tuple(r) for r in expected]
    assert [r.ratio for r in in_list.rows(session, {"ids": ids, "least": 2.5})] == [3.0, 4.0]
    assert [r.ratio for r in in_list.rows(session, {"ids": ids[::-1], "least": 0.5})] == [1.0, 2.0, 3.0, 4.0]


def test_what_it_cannot_do_is_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="new_label"):  # not bound as NULL: SQLAlchemy refuses it too
        RENAME.run(session, {"probe_id": uuid.uuid4()})
    with pytest.raises(StatementError, match="ratio"):  # each row of an executemany
        INSERT.run(session, [row(), {k: v for k, v in row().items() if k != "ratio"}])
    session.rollback()
    defaulted = Direct(sa.insert(probe).values(id=sa.bindparam("id")))  # label's default is Python's
    with pytest.raises(TypeError, match="label"):
        defaulted.run(session, {"id": uuid.uuid4()})


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # a local SQLite file has no connection to lose
def test_a_connection_lost_renews_the_pool(session: Session, settings: Settings) -> None:
    """As for SQLAlchemy's own statements: the one request that met the lost connection
    fails (a 503), and the pool's older connections are replaced, not met one by one."""
    engine = build_engine(settings.model_copy(update={"db_pool_size": 4}))
    try:
        held = [engine.connect() for _ in range(4)]
        pids = [c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() for c in held]
        for c in held:
            c.close()  # back in the pool, given back just now (not pinged before reuse)
        for pid in pids:  # what a server restart does to them
            session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        outcomes = []
        for _ in range(5):
            with Session(engine) as fresh:
                try:
                    outcomes.append(BY_ID.first(fresh, {"id": uuid.uuid4()}) is None)
                except DBAPIError as failed:
                    outcomes.append(not failed.connection_invalidated)
        assert outcomes == [False, True, True, True, True]
    finally:
        engine.dispose()


def test_values_beside_an_in_list_and_literals_are_converted(session: Session) -> None:
    at = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    values = [row(at=at, ratio=1.0), row(at=at, ratio=2.0)]
    INSERT.run(session, values)
    ids = [v["id"] for v in values]
    later = at.astimezone(timezone(timedelta(hours=2)))  # the same instant, another offset
    mixed = Direct(
        sa.select(probe.c.ratio)
        .where(probe.c.at >= sa.bindparam("from_"), probe.c.id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(probe.c.ratio)
    )
    assert [r.ratio for r in mixed.rows(session, {"from_": later, "ids": ids})] == [1.0, 2.0]
    beside_uuid = Direct(
        sa.select(probe.c.ratio).where(
            probe.c.id == sa.bindparam("one"), probe.c.ratio.in_(sa.bindparam("r", expanding=True))
        )
    )
    assert [r.ratio for r in beside_uuid.rows(session, {"one": ids[1], "r": [2.0, 3.0]})] == [2.0]
    literal = Direct(sa.select(probe.c.ratio).where(probe.c.id == ids[0], probe.c.at == at))  # bound by the statement
    assert [r.ratio for r in literal.rows(session)] == [1.0]


def test_an_inactive_transaction_is_refused_as_sqlalchemy_refuses_it(session: Session) -> None:
    values = row(label="first")
    INSERT.run(session, values)
    session.add(ProbeRow(id=values["id"], label="again"))  # a duplicate: the flush fails
    with pytest.raises(IntegrityError):
        session.flush()
    with pytest.raises(PendingRollbackError):
        INSERT.run(session, row(label="after a failed flush"))
    session.rollback()
    assert session.execute(sa.select(sa.func.count()).select_from(probe)).scalar_one() == 0


def test_a_json_column_keeps_what_json_dumps_would(session: Session) -> None:
    """JSON columns are written by pydantic-core's serialiser: each value reads back as the
    text ``json.dumps`` makes of it reads back from the same database (JSONB keeps its own
    key order and number forms), a lone surrogate included (only ``json.dumps`` writes it;
    SQLite also takes NaN and infinities, which JSONB refuses)."""
    values: list[Any] = [
        {"sets": [{"reps": 12, "load_kg": 10.5, "done": True}], "notes": "é € 😀", "none": None},
        {"big": 123456789012345678901234567890, "negative zero": -0.0, "tiny": 1e-300, "large": 1e16},
        {1: "a key made a string"},
        ["text", 'with a \u0001 control character and a quote " and a backslash \\'],
    ]
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        values += [{"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}, {"lone": "\ud800"}]
    ours = [row(data=value) for value in values]
    theirs = [row() for _ in values]
    INSERT.run(session, ours + theirs)
    for value, stored in zip(values, theirs, strict=True):  # the text json.dumps makes, as stored
        text = sa.literal(json.dumps(value), sa.Text)
        session.execute(
            sa.update(probe)
            .where(probe.c.id == stored["id"])
            .values(data=sa.type_coerce(text, sa.Text) if sqlite else sa.cast(text, JSONB))
        )
    for mine, reference in zip(ours, theirs, strict=True):
        got, expected = (BY_ID.first(session, {"id": r["id"]}) for r in (mine, reference))
        assert got is not None and expected is not None
        assert json.dumps(got.data, sort_keys=True) == json.dumps(expected.data, sort_keys=True)
