"""Shared input types: slugs, and text that may not carry NUL bytes (PostgreSQL refuses
them). Both constraints are patterns, so the published schema states them too."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TEMPO_PATTERN = r"^\d+-\d+-\d+(-\d+)?$"  # seconds lowering-pause-lifting(-pause), e.g. 3-0-3
NO_NUL_PATTERN = r"^[^\x00]*$"

NoNulStr = Annotated[str, Field(pattern=NO_NUL_PATTERN)]


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are refused and text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _iso_only(value: object) -> object:
    """Refuse numbers, and text that is a number (query parameters arrive as text), where
    the schema promises an ISO 8601 string: pydantic would read them as Unix timestamps."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("expected an ISO 8601 string")
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", value):
        raise ValueError("expected an ISO 8601 string")
    return value


Day = Annotated[dt.date, BeforeValidator(_iso_only)]
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
