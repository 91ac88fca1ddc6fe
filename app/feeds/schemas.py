"""Request and response shapes for feed links."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt

from app.core.schemas import InputModel

Resource = Literal["load.svg", "progress.svg", "plan.ics"]


class FeedCreate(InputModel):
    resource: Resource = Field(description="The one resource the link grants.")
    athlete_id: str = Field(
        default="me", min_length=1, max_length=64, description="Whose: `me`, or an athlete who granted you access."
    )
    plan_id: uuid.UUID | None = Field(default=None, description="The plan, for `plan.ics` (required there).")
    expires_in_days: StrictInt = Field(default=90, ge=1, le=365, description="Days until the link stops working.")


class FeedPublic(BaseModel):
    id: uuid.UUID = Field(description="The link's id (revoke it by this).")
    resource: Resource = Field(description="What it grants.")
    athlete_id: uuid.UUID = Field(description="Whose data it shows.")
    plan_id: uuid.UUID | None = Field(description="The plan, for `plan.ics`.")
    prefix: str = Field(description="The token's first characters, to recognise it.")
    created_at: datetime = Field(description="When it was made.")
    expires_at: datetime = Field(description="When it stops working.")
    last_used_at: datetime | None = Field(description="When it was last fetched (to the minute).")


class FeedCreated(FeedPublic):
    url: str = Field(
        description="The link, token included: shown only now. Anyone holding it can read that one resource "
        "until it expires or you revoke it; treat it as a password."
    )
