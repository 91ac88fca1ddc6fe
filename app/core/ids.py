"""Ids for rows the service makes: UUID version 7 (RFC 9562, section 5.7).

A version 7 id starts with the Unix time in milliseconds (the server's clock), so ids
made in different milliseconds sort in the order they were made; within one millisecond
their order is random. A row's new key then lands at the end of its primary key's index
(and of an index that leads with another new id, such as the sets' ``workout_id``)
instead of on a random page of it; an index that leads with another column (the
athlete, the exercise) is placed by that column as before. With random (version 4) ids,
a workout's ten sets touched ten or more pages of the sets' key index on every write,
each one written again to SQLite's log and, after a PostgreSQL checkpoint, to its
write-ahead log in full (bench/README.md, twenty-sixth round). The other 74 bits come
from the operating system's random source, as uuid4's do: an id is no easier to guess
than before, but it tells its millisecond, so ids whose making time is not already shown
beside them (plan sessions, laid out again when a logged workout completes a week) stay
random.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT = 0x2 << 62
_RANDOM_A = 0xFFF << 64  # 12 bits after the version
_RANDOM_B = (1 << 62) - 1  # 62 bits after the variant


def _made(milliseconds: int, random_bits: int) -> uuid.UUID:
    return uuid.UUID(int=milliseconds << 80 | _VERSION_7 | random_bits & _RANDOM_A | _VARIANT | random_bits & _RANDOM_B)


def new_id() -> uuid.UUID:
    """A new UUID version 7: 48 bits of Unix milliseconds, the version, 12 random bits, the
    variant, 62 random bits."""
    return _made(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))


def new_ids(count: int) -> list[uuid.UUID]:
    """``count`` new ids, with one read of the random source for all of them."""
    milliseconds, random = time.time_ns() // 1_000_000, os.urandom(10 * count)
    return [_made(milliseconds, int.from_bytes(random[at : at + 10], "big")) for at in range(0, 10 * count, 10)]
