"""One set of operations for every kind of training record (workouts, runs, check-ins):
create, create-or-replace by a client UUID, read, keyset-paginated list, patch and
delete, with versions for ETags, If-Match preconditions, and change tracking for sync.
Writes are flushed, not committed: the caller commits (with the idempotency record)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Generic, Literal, Protocol, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import ColumnElement, delete, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.accounts.models import utcnow
from app.core import events
from app.core.db import table_of
from app.core.direct import Direct
from app.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, PreconditionRequired
from app.core.ids import new_id
from app.core.last import run_last
from app.core.schemas import Day, Instant
from app.training.models import Change, SyncCounter


class Record(Protocol):
    """What every kind of training record has: its id and owner, a version for ETags,
    and when it was stored and last changed."""

    id: uuid.UUID
    athlete_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


class Written(Protocol):
    """What a create answers from: the stored record (an ORM object), or the values its
    INSERT wrote (a kind that writes without the ORM)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


Row = TypeVar("Row", bound=Record)
Public = TypeVar("Public", bound=BaseModel)
Entity = Literal["workout", "run", "checkin", "test"]


@dataclass(frozen=True)
class Kind(Generic[Row, Public]):
    """How one kind of record is stored and shown."""

    entity: Entity
    label: str
    model: type[Row]
    order_field: str  # newest first by this column, then by id
    build: Callable[[Session, uuid.UUID, uuid.UUID, dict[str, Any]], Written]
    apply: Callable[[Session, Row, dict[str, Any]], None]
    publish: Callable[[Session, Sequence[Any]], list[Public]]  # table rows or rows read from the table
    snapshot: Callable[[Session, Row], dict[str, Any]]  # the stored record in its input shape
    validate: Callable[[Session, uuid.UUID, dict[str, Any]], None] = field(default=lambda _s, _a, _d: None)

    @property
    def order_column(self) -> Any:
        return getattr(self.model, self.order_field)

    # Statements built once per kind (building one costs more than running it): its rows by ``id``, by ``ids``,
    # and the newest ``limit`` of an athlete's, from the start or ``after``, ``after_id``;
    # the hot ones run on the driver (core.direct).
    @cached_property
    def by_id(self) -> Direct:
        table = table_of(self.model)
        return Direct(sa.select(table).where(table.c.id == sa.bindparam("id")))

    @cached_property
    def by_ids(self) -> Direct:
        table = table_of(self.model)
        return Direct(sa.select(table).where(table.c.id.in_(sa.bindparam("ids", expanding=True))))

    @cached_property
    def newest(self) -> Direct:
        return Direct(self.newest_where())

    @cached_property
    def newest_after(self) -> Direct:
        return Direct(self.newest_where(after=True))

    def newest_where(self, *where: ColumnElement[bool], after: bool = False) -> sa.Select[Any]:
        """The newest ``limit`` rows of ``athlete_id`` matching ``where``, after the cursor
        (``after``, ``after_id``) if ``after``: built per call (the unfiltered two are kept)."""
        table = table_of(self.model)
        order = table.c[self.order_field]
        if after:
            cursor = tuple_(sa.bindparam("after", type_=order.type), sa.bindparam("after_id", type_=table.c.id.type))
            where = (*where, tuple_(order, table.c.id) < cursor)
        return (
            sa.select(table)
            .where(table.c.athlete_id == sa.bindparam("athlete_id"), *where)
            .order_by(order.desc(), table.c.id.desc())
            .limit(sa.bindparam("limit", type_=sa.Integer))
        )


def etag(version: int) -> str:
    return f'"{version}"'


def _matches(if_match: str, version: int) -> bool:
    if if_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag(version) for tag in if_match.split(","))


def check_if_match(if_match: str | None, version: int, *, required: bool) -> None:
    if if_match is None:
        if required:
            raise PreconditionRequired("Send If-Match with the record's ETag (from GET) to change it.")
        return
    if not _matches(if_match, version):
        raise PreconditionFailed(f"The record changed since you read it: it is now at version {version}.")


def _counter_upsert(insert: Any) -> Any:
    counter = table_of(SyncCounter)
    return (
        insert(counter)
        .values(athlete_id=sa.bindparam("athlete_id"), last_seq=1)
        .on_conflict_do_update(index_elements=[counter.c.athlete_id], set_={"last_seq": counter.c.last_seq + 1})
        .returning(counter.c.last_seq)
    )


def _change_upsert(insert: Any) -> Any:
    changes = table_of(Change)
    stmt = insert(changes).values(
        **{name: sa.bindparam(name) for name in ("athlete_id", "entity", "entity_id", *_CHANGED)}
    )
    return stmt.on_conflict_do_update(
        index_elements=[changes.c.athlete_id, changes.c.entity, changes.c.entity_id],
        set_={name: getattr(stmt.excluded, name) for name in _CHANGED},
    )


def _numbered_upsert(insert: Any) -> Any:
    """PostgreSQL's: the counter's upsert and the change's as one statement (the counter's in
    a data-modifying WITH), one round trip with the counter's row locked instead of two."""
    changes = table_of(Change)
    seq = _counter_upsert(insert).cte("next_seq")
    given = ("athlete_id", "entity", "entity_id", "op", "version", "changed_at")
    numbered = sa.select(*(sa.bindparam(n, type_=changes.c[n].type).label(n) for n in given), seq.c.last_seq)
    stmt = insert(changes).from_select([*given, "seq"], numbered).add_cte(seq)
    return stmt.on_conflict_do_update(
        index_elements=[changes.c.athlete_id, changes.c.entity, changes.c.entity_id],
        set_={name: getattr(stmt.excluded, name) for name in _CHANGED},
    )


_CHANGED = ("seq", "op", "version", "changed_at")
_NEXT_SEQ = Direct(_counter_upsert)
_CHANGE = Direct(_change_upsert)
_NUMBERED = Direct(_numbered_upsert)  # PostgreSQL only: SQLite has no data-modifying WITH


def track(
    session: Session, kind: Kind[Any, Any], athlete_id: uuid.UUID, entity_id: uuid.UUID, op: str, version: int
) -> None:
    """Emit this change's event (``workout.created``, ``run.updated``, ``checkin.deleted``...)
    and, last in the transaction (:func:`app.core.last.run_last`), give the change the
    athlete's next change number, replacing the record's earlier entry. The athlete's
    counter row stays locked from then until the commit, so changes commit in the order of
    their numbers; taken last, it is locked for one statement and the commit."""
    verb = "deleted" if op == "delete" else "created" if version == 1 else "updated"
    events.emit(session, f"{kind.entity}.{verb}", athlete_id, entity_id, {"version": version})
    change = {"athlete_id": athlete_id, "entity": kind.entity, "entity_id": entity_id, "op": op, "version": version}
    run_last(session, lambda last: _numbered(last, change))


def _numbered(session: Session, change: dict[str, Any]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        _NUMBERED.later(session, {**change, "changed_at": utcnow()})
        return
    ((seq,),) = _NEXT_SEQ.rows(session, {"athlete_id": change["athlete_id"]})
    _CHANGE.run(session, {**change, "seq": seq, "changed_at": utcnow()})


def _not_found(kind: Kind[Any, Any], record_id: uuid.UUID) -> NotFound:
    """What a caller hears of a record that is not theirs, whether or not it exists."""
    return NotFound(f"No {kind.label} '{record_id}'.")


def _owned(session: Session, kind: Kind[Row, Any], athlete_id: uuid.UUID, record_id: uuid.UUID) -> Row:
    row = session.get(kind.model, record_id)
    if row is None or row.athlete_id != athlete_id:
        raise _not_found(kind, record_id)
    return row


def check_not_future(value: datetime | date | None, name: str, *, slack_days: int = 1) -> None:
    if value is None:
        return
    today = utcnow()
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day, tzinfo=today.tzinfo)
    if (moment - today).days >= slack_days:
        raise InvalidInput(f"'{name}' is in the future.", name=name, location="body")
    if moment.year < 1970:
        raise InvalidInput(f"'{name}' is before 1970.", name=name, location="body")


def _utc(fields: dict[str, Any]) -> dict[str, Any]:
    """Store instants in UTC, whatever offset the client sent."""
    return {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in fields.items()}


def create(
    session: Session,
    kind: Kind[Row, Public],
    athlete_id: uuid.UUID,
    data: BaseModel,
) -> Written:
    """Create with a new id (PUT creates with the client's: :func:`replace`). A fresh
    id (74 random bits) is nobody's, so the record is inserted at once (no read, no savepoint)."""
    fields = _utc(data.model_dump(exclude_unset=False))
    kind.validate(session, athlete_id, fields)
    record_id = new_id()
    row = kind.build(session, athlete_id, record_id, fields)
    session.flush()
    track(session, kind, athlete_id, record_id, "upsert", 1)
    return row


def _insert(
    session: Session, kind: Kind[Row, Any], athlete_id: uuid.UUID, record_id: uuid.UUID, fields: dict[str, Any]
) -> Written | None:
    """Insert the record, or None when its id is taken, even by a concurrent transaction
    that committed it meanwhile (the insert runs in a savepoint, so the transaction goes on)."""
    if session.get(kind.model, record_id) is not None:
        return None
    try:
        with session.begin_nested():
            row = kind.build(session, athlete_id, record_id, fields)
            session.flush()
    except IntegrityError:
        if session.get(kind.model, record_id) is None:
            raise  # another constraint: not a race for the id
        return None
    track(session, kind, athlete_id, record_id, "upsert", 1)
    return row


def get(session: Session, kind: Kind[Row, Public], athlete_id: uuid.UUID, record_id: uuid.UUID) -> tuple[Public, int]:
    """Read-only: the row's columns straight into the public model (no ORM object)."""
    row = kind.by_id.first(session, {"id": record_id})
    if row is None or row.athlete_id != athlete_id:
        raise _not_found(kind, record_id)
    return kind.publish(session, [row])[0], row.version


def _change(session: Session, kind: Kind[Row, Public], row: Row, fields: dict[str, Any]) -> None:
    kind.apply(session, row, fields)
    row.version += 1
    row.updated_at = utcnow()
    session.flush()
    track(session, kind, row.athlete_id, row.id, "upsert", row.version)


def replace(
    session: Session,
    kind: Kind[Row, Public],
    athlete_id: uuid.UUID,
    record_id: uuid.UUID,
    data: BaseModel,
    if_match: str | None,
) -> tuple[Written, bool]:
    """Create with the client's id, or replace: an identical body changes nothing; a
    different one needs If-Match, so an offline copy never overwrites newer data blindly."""
    fields = _utc(data.model_dump(exclude_unset=False))
    existing = session.get(kind.model, record_id)
    if existing is None or existing.athlete_id != athlete_id:
        kind.validate(session, athlete_id, fields)  # judged alike: an unknown id, another's id
        if existing is None:
            created = _insert(session, kind, athlete_id, record_id, fields)
            if created is not None:
                return created, True
            existing = session.get(kind.model, record_id)  # a concurrent PUT created it first
            if existing is None:  # ... and another request deleted it since
                raise Conflict("The record changed while this request ran; retry.", headers={"Retry-After": "1"})
        if existing.athlete_id != athlete_id:
            raise _not_found(kind, record_id)  # the id is someone else's: answered as GET answers it
    if kind.snapshot(session, existing) == fields:  # the same record sent again
        return existing, False
    check_if_match(if_match, existing.version, required=True)
    kind.validate(session, athlete_id, fields)
    _change(session, kind, existing, fields)
    return existing, False


def patch(
    session: Session,
    kind: Kind[Row, Public],
    athlete_id: uuid.UUID,
    record_id: uuid.UUID,
    data: BaseModel,
    if_match: str | None,
) -> Row:
    row = _owned(session, kind, athlete_id, record_id)
    check_if_match(if_match, row.version, required=True)
    fields = _utc(data.model_dump(exclude_unset=True))
    for name, value in fields.items():
        if value is None and name in _required(kind):
            raise InvalidInput(f"'{name}' cannot be null.", name=name, location="body")
    kind.validate(session, athlete_id, fields)
    _change(session, kind, row, fields)
    return row


def _required(kind: Kind[Any, Any]) -> set[str]:
    table = kind.model.__table__
    return {c.name for c in table.columns if not c.nullable} | {"sets", "sites"}


def remove(
    session: Session, kind: Kind[Row, Public], athlete_id: uuid.UUID, record_id: uuid.UUID, if_match: str | None
) -> None:
    row = _owned(session, kind, athlete_id, record_id)
    check_if_match(if_match, row.version, required=False)
    version = row.version + 1
    session.execute(delete(kind.model).where(col(kind.model.id) == record_id))
    track(session, kind, athlete_id, record_id, "delete", version)


# ---------------------------------------------------------------- keyset pages


def encode_cursor(order_value: Any, record_id: uuid.UUID) -> str:
    raw = json.dumps([order_value.isoformat(), str(record_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)
_DAY: TypeAdapter[date] = TypeAdapter(Day)


def decode_cursor(cursor: str, as_datetime: bool) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, record_id = json.loads(raw)
        order = (_INSTANT if as_datetime else _DAY).validate_python(value)
        return order, uuid.UUID(record_id)
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidInput("The cursor is not one this API gave out.", name="cursor") from exc


def page(
    session: Session,
    kind: Kind[Row, Public],
    athlete_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    where: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[Public], str | None]:
    """Newest first, by (order column, id): the index serves any page at the same cost.
    Read-only: rows go straight into the public models (no ORM objects)."""
    params: dict[str, Any] = {"athlete_id": athlete_id, "limit": limit + 1}
    if cursor:
        params["after"], params["after_id"] = decode_cursor(cursor, as_datetime=kind.order_field != "date")
    # Filtered: built for the filters; unfiltered: the kind's statements built once.
    if where:
        rows = list(session.execute(kind.newest_where(*where, after=bool(cursor)), params).all())
    else:
        rows = (kind.newest_after if cursor else kind.newest).rows(session, params)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows and more else None
    next_cursor = encode_cursor(getattr(last, kind.order_field), last.id) if last is not None else None
    return kind.publish(session, rows), next_cursor
