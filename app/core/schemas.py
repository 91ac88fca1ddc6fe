"""Shared input types: slugs, and text that may not carry NUL bytes (PostgreSQL refuses
them). Both constraints are patterns, so the published schema states them too."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
NO_NUL_PATTERN = r"^[^\x00]*$"

NoNulStr = Annotated[str, Field(pattern=NO_NUL_PATTERN)]


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are refused and text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
