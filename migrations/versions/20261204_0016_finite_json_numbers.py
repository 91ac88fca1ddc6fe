"""finite JSON numbers: SQLite rows holding Infinity or NaN are mended

Before request bodies refused non-finite numbers, a plan's ``criteria_overrides`` could
carry ``Infinity``, ``-Infinity`` or ``NaN``. SQLite stored them as written, which is not
JSON: every list of that athlete's plans then failed (its SQL reads the draft with
``json_array_length``), and judging such a plan's week failed on reading its options.
PostgreSQL's ``json`` and ``jsonb`` refuse these numbers, so nothing of the kind was ever
stored there and this revision changes nothing on it.

On SQLite each JSON column's rows that are not valid JSON are read as Python reads them
and written back with every number finite:

* a plan's non-finite override is dropped, so the plan uses that criterion's threshold;
* a criterion in a plan's draft that showed the override shows that threshold again
  (the thresholds below are the adjustable criteria's at this revision; an override could
  name no other criterion);
* any other non-finite number becomes ``null``, which is what the API answered for it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 17:00:00
"""

import json
import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every criterion ``options.criteria_overrides`` could name, with its threshold.
THRESHOLDS: dict[str, float] = {
    "all-sets-completed": 1.0,
    "heel-raise-symmetry-90": 90.0,
    "pain-during-above-5-general": 5.0,
    "pain-during-at-most-3": 3.0,
    "pain-free-hops-10": 10.0,
    "phase-2-tolerated": 3.0,
    "runs-completed": 0.67,
    "sessions-completed": 0.8,
    "sets-stop-short": 0.67,
    "two-sessions-completed": 2.0,
}


def _finite_number(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _mended(value: Any) -> Any:
    """``value`` with each non-finite number made finite (see the module's docstring)."""
    if isinstance(value, dict):
        mended = {key: _mended(item) for key, item in value.items()}
        overrides = value.get("criteria_overrides")
        if isinstance(overrides, dict):  # each kept mended, each non-finite one dropped
            mended["criteria_overrides"] = {
                slug: mended["criteria_overrides"][slug] for slug, v in overrides.items() if _finite_number(v)
            }
        if {"slug", "op", "value"} <= mended.keys() and not _finite_number(value["value"]):
            mended["value"] = THRESHOLDS.get(str(value["slug"]))
        return mended
    if isinstance(value, list):
        return [_mended(item) for item in value]
    return value if _finite_number(value) else None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    quote = bind.dialect.identifier_preparer.quote
    # Tables with a rowid (the schema has no other kind) that SQLAlchemy named or made.
    tables = [
        name
        for (name, sql) in bind.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        if "WITHOUT ROWID" not in (sql or "").upper()
    ]
    for table in tables:
        columns = [
            row[1]
            for row in bind.exec_driver_sql(f"PRAGMA table_info({quote(table)})")
            if str(row[2]).upper() == "JSON"
        ]
        for column in columns:
            # The names are the schema's own, quoted: no input reaches this SQL.
            where, name = quote(table), quote(column)
            broken = bind.exec_driver_sql(
                f"SELECT rowid, {name} FROM {where} WHERE {name} IS NOT NULL AND NOT json_valid({name})"  # noqa: S608
            ).all()
            for rowid, text in broken:
                if isinstance(text, float):  # a number the column's affinity kept as one (1e999)
                    value: Any = text
                else:
                    try:
                        value = json.loads(text)
                    except (TypeError, ValueError):
                        continue  # not a number's doing: left as it is
                bind.execute(
                    sa.text(f"UPDATE {where} SET {name} = :value WHERE rowid = :rowid"),  # noqa: S608
                    {"value": json.dumps(_mended(value), allow_nan=False), "rowid": rowid},
                )


def downgrade() -> None:
    pass  # the numbers mended were never valid JSON: there is nothing to restore
