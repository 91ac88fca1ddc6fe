"""Shared input types: slugs, text that may not carry NUL bytes (PostgreSQL refuses
them; a pattern, so the published schema states it too) and names shown to other people,
which may not carry control or invisible formatting characters."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TEMPO_PATTERN = r"^\d+-\d+-\d+(-\d+)?$"  # seconds lowering-pause-lifting(-pause), e.g. 3-0-3
NO_NUL_PATTERN = r"^[^\x00]*$"

NoNulStr = Annotated[str, Field(pattern=NO_NUL_PATTERN)]

# Control (Cc), format (Cf: bidirectional overrides such as U+202E, zero-width joiners and
# marks) and line/paragraph separators (Zl, Zp) can make a name read differently from
# what it is, or hide text, wherever it is shown to someone else.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _no_hidden_characters(value: str) -> str:
    hidden = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c) in HIDDEN_CATEGORIES})
    if hidden:
        raise ValueError(f"contains control or invisible formatting characters ({', '.join(hidden)}); remove them")
    return value


VisibleStr = Annotated[NoNulStr, AfterValidator(_no_hidden_characters)]
"""Text shown to other people (names): no control or invisible formatting characters."""


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are refused and text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _iso_only(value: object) -> object:
    """Refuse numbers where the schema promises an ISO 8601 string (pydantic would read
    them as Unix timestamps)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("expected an ISO 8601 string")
    return value


Day = Annotated[dt.date, BeforeValidator(_iso_only)]
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
