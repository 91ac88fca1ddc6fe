"""Plan requests and responses."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, create_model
from pydantic.fields import FieldInfo

from app.core.schemas import Day, InputModel
from app.plans.engine.model import PlanDraft, PlanKind, PlanOptions, PlanProfile, PlanSessionDraft, PlanWeekDraft


class PreviewRequest(InputModel):
    kind: PlanKind = Field(description="resilience, achilles or return-to-run.")
    profile: PlanProfile = Field(description="The runner.")
    start_date: Day | None = Field(default=None, description="First day; today (UTC) if left out.")
    options: PlanOptions = Field(default_factory=PlanOptions, description="Protocol choice, length, taper.")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _all_optional(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """``model``'s fields, each optional with no default: left out means "as stored"."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        copy = FieldInfo.merge_field_infos(info, default=None, json_schema_extra=_no_default)
        copy.description = f"{info.description} Left out: as stored (or the engine's default)."
        fields[field_name] = (info.annotation, copy)
    return create_model(name, __config__=ConfigDict(extra="forbid", frozen=True), __doc__=doc, **fields)


PlanProfileOverrides = _all_optional(
    PlanProfile,
    "PlanProfileOverrides",
    "Plan profile fields that differ from the stored athlete profile for this plan; the same fields, types and "
    "bounds as `PlanProfile`, each optional.",
)


class PlanCreate(InputModel):
    kind: PlanKind = Field(description="resilience, achilles or return-to-run.")
    start_date: Day | None = Field(default=None, description="First day; today (UTC) if left out.")
    options: PlanOptions = Field(default_factory=PlanOptions, description="Protocol choice, length, taper.")
    profile_overrides: PlanProfileOverrides = Field(  # type: ignore[valid-type]
        default_factory=PlanProfileOverrides,
        description="Profile fields that differ from the stored athlete profile for this plan.",
    )


class AdaptRequest(InputModel):
    week: StrictInt | None = Field(
        default=None, ge=1, le=104, description="The week to judge; the last finished week if left out."
    )


class SessionPublic(PlanSessionDraft):
    id: uuid.UUID = Field(description="Link a workout to it with the workout's `planned_session_id`.")
    workouts: list[uuid.UUID] = Field(description="Workouts logged against it.")


class WeekPublic(PlanWeekDraft):
    sessions: list[SessionPublic] = Field(description="Its sessions, by date.")  # type: ignore[assignment]


class AdaptationPublic(BaseModel):
    week: StrictInt = Field(description="The week judged.")
    decision: Literal["progress", "hold", "regress"] = Field(description="What the next week does.")
    rule: str = Field(description="The rule that decided (Silbernagel's pain-monitoring model).")
    reasons: list[str] = Field(description="What in the logs led to it.")
    criterion: str = Field(description="The criterion that decided (a slug of the plan's stages or the catalogue).")
    from_stage: str | None = Field(description="Staged plans: the stage of the week judged.")
    to_stage: str | None = Field(description="Staged plans: the stage the next week is in.")
    details: dict[str, Any] = Field(description="Each criterion evaluated with its value, the usual morning pain.")
    created_at: dt.datetime = Field(description="When it was decided.")


class PlanPublic(PlanDraft):
    id: uuid.UUID = Field(description="The plan's id.")
    athlete_id: uuid.UUID = Field(description="Whose plan it is.")
    status: Literal["active", "archived"] = Field(description="active or archived.")
    weeks: list[WeekPublic] = Field(description="The weeks in order.")  # type: ignore[assignment]
    adaptations: list[AdaptationPublic] = Field(description="Each judged week's decision.")
    created_at: dt.datetime = Field(description="When it was made.")


class PlanSummary(BaseModel):
    id: uuid.UUID = Field(description="The plan's id.")
    kind: PlanKind = Field(description="resilience, achilles or return-to-run.")
    protocol: str = Field(description="The protocol it follows.")
    status: Literal["active", "archived"] = Field(description="active or archived.")
    start_date: dt.date = Field(description="First day.")
    weeks: StrictInt = Field(description="How many weeks.")
    created_at: dt.datetime = Field(description="When it was made.")
