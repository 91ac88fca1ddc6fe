"""Shared input types: slugs, text that may not carry NUL bytes (PostgreSQL refuses
them; a pattern, so the published schema states it too), names shown to other people,
which may not carry control or invisible formatting characters, and ISO 8601 days and
instants within one range of years."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TEMPO_PATTERN = r"^\d+-\d+-\d+(-\d+)?$"  # seconds lowering-pause-lifting(-pause), e.g. 3-0-3
NO_NUL_PATTERN = r"^[^\x00]*$"

NoNulStr = Annotated[str, Field(pattern=NO_NUL_PATTERN)]

# Control (Cc), format (Cf: bidirectional overrides such as U+202E, zero-width joiners and
# marks) and line/paragraph separators (Zl, Zp) can make a name read differently from
# what it is, or hide text, wherever it is shown to someone else.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Letters and symbols that draw nothing: the Hangul fillers and the blank braille pattern,
# with which a name can look empty or pad itself to look like someone else's.
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _no_hidden_characters(value: str) -> str:
    hidden = sorted(
        {f"U+{ord(c):04X}" for c in value if unicodedata.category(c) in HIDDEN_CATEGORIES or c in BLANK_CHARACTERS}
    )
    if hidden:
        raise ValueError(f"contains control, formatting or blank characters ({', '.join(hidden)}); remove them")
    return value


VisibleStr = Annotated[NoNulStr, AfterValidator(_no_hidden_characters)]
"""Text shown to other people (names): no control or invisible formatting characters."""


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are refused, text is stripped, and numbers
    are finite (JSON has no Infinity or NaN, though Python's parser reads them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


def _declare_read_only(schema: dict[str, Any], model: type[BaseModel]) -> None:
    read_only: dict[str, dict[str, Any]] = getattr(model, "read_only", {})
    properties = schema.setdefault("properties", {})
    for name, spec in read_only.items():
        properties.setdefault(
            name, {**spec, "readOnly": True, "description": "Read-only: sent back from a GET, ignored."}
        )


class WritableBack(InputModel):
    """A request body that also takes back what a GET answered, unchanged: the read-only
    fields in ``read_only`` (ids, versions, timestamps, derived figures) are accepted and
    ignored, so a client can send a record it read, edited or not."""

    model_config = ConfigDict(json_schema_extra=_declare_read_only)
    read_only: ClassVar[dict[str, dict[str, Any]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _ignore_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.read_only:
            return {k: v for k, v in data.items() if k not in cls.read_only}
        return data


UUID_SCHEMA = {"type": "string", "format": "uuid"}
INSTANT_SCHEMA = {"type": "string", "format": "date-time"}
VERSIONED_READ_ONLY: dict[str, dict[str, Any]] = {
    "id": UUID_SCHEMA,
    "athlete_id": UUID_SCHEMA,
    "version": {"type": "integer"},
    "created_at": INSTANT_SCHEMA,
    "updated_at": INSTANT_SCHEMA,
}


# One calendar for every date and instant the API accepts: wide enough for any training
# record or plan, narrow enough that date arithmetic (a day's end, a plan's weeks, a time
# zone's offset) can never leave Python's year 1-9999.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2200, 12, 31)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}")
DateOrTime = TypeVar("DateOrTime", dt.date, dt.datetime)


def _iso_only(pattern: re.Pattern[str], example: str) -> Callable[[object], object]:
    """Refuse anything but an ISO 8601 string (or a value already parsed): pydantic would
    otherwise read a number, or a string of digits, as a Unix time."""

    def check(value: object) -> object:
        if isinstance(value, dt.date):
            return value
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"expected an ISO 8601 string such as {example}")
        return value

    return check


def _in_range(value: DateOrTime) -> DateOrTime:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return value


Day = Annotated[dt.date, BeforeValidator(_iso_only(_ISO_DAY, "2026-11-20")), AfterValidator(_in_range)]
"""A calendar day, ``YYYY-MM-DD``, from 1900 to 2200."""
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_only(_ISO_INSTANT, "2026-11-20T18:30:00+01:00")),
    AfterValidator(_in_range),
]
"""An instant with its UTC offset (or ``Z``), ISO 8601, from 1900 to 2200."""

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAY_NAMES: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
