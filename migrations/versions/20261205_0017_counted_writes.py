"""counted writes: a PostgreSQL function that fails a statement whose write changed another number of rows

On PostgreSQL a training record's last writes go to the server as one statement
(``app.core.batched``), each write a data-modifying ``WITH`` member that must change a
known number of rows (one workout, its ten sets, the Idempotency-Key's row unless the key
is there already). When that statement is all its transaction writes, it is sent as a
transaction of its own, without ``BEGIN`` and ``COMMIT``; its members' row counts are
then checked by the statement itself, with this function, so that a count that is wrong
fails the statement and nothing of it is stored:

    SELECT runstrong_counted(0, (SELECT count(*) FROM q0), 1), ...

It returns the count, or raises SQLSTATE ``RS409`` with the member's number as the
error's detail. SQLite never combines writes: nothing changes there.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = """
CREATE OR REPLACE FUNCTION runstrong_counted(member integer, changed bigint, expected bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
BEGIN
    IF changed IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'write % of a combined statement changed % rows, not %', member, changed, expected
            USING ERRCODE = 'RS409', DETAIL = member::text;
    END IF;
    RETURN changed;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(COUNTED)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS runstrong_counted(integer, bigint, bigint)")
