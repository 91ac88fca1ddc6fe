"""Request and response shapes of the training log."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.catalogue import criteria
from app.catalogue.criteria import AffectedSide, ClinicalTestName, Measure
from app.catalogue.schemas import Ref
from app.core.schemas import (
    SLUG_PATTERN,
    TEMPO_PATTERN,
    VERSIONED_READ_ONLY,
    Day,
    InputModel,
    Instant,
    NoNulStr,
    WritableBack,
)

T = TypeVar("T", bound=BaseModel)
MAX_SETS = 60
Rating = Annotated[StrictFloat, Field(ge=0, le=10, multiple_of=0.5)]
Pain = Annotated[StrictInt, Field(ge=0, le=10)]
Site = Annotated[str, Field(min_length=2, max_length=60, pattern=SLUG_PATTERN, examples=["left-achilles"])]
Notes = Annotated[NoNulStr, Field(max_length=2000)]
# A run's bounds keep its pace (duration / distance) finite: at least 10 m, at most a week.
MIN_RUN_KM, MAX_RUN_KM = 0.01, 1000
MAX_RUN_S = 7 * 24 * 3600
MAX_WORKOUT_S = 24 * 3600


class Side(StrEnum):
    left = "left"
    right = "right"
    both = "both"


class RunType(StrEnum):
    easy = "easy"
    long = "long"
    tempo = "tempo"
    intervals = "intervals"
    hills = "hills"
    race = "race"


class Surface(StrEnum):
    road = "road"
    trail = "trail"
    track = "track"
    treadmill = "treadmill"
    grass = "grass"
    mixed = "mixed"


# ---------------------------------------------------------------- workouts

# The UTC offset a start was sent with: kept (hidden from the contract) and answered back, so
# `+01:00` comes back as `+01:00`, the same instant.
HiddenOffset = SkipJsonSchema[StrictInt | None]
MAX_OFFSET_MINUTES = 18 * 60


class KeepsOffset(BaseModel):
    utc_offset_minutes: HiddenOffset = Field(default=None, ge=-MAX_OFFSET_MINUTES, le=MAX_OFFSET_MINUTES)

    @model_validator(mode="after")
    def _offset_of_start(self) -> KeepsOffset:
        started: datetime | None = getattr(self, "started_at", None)
        sent = self.__pydantic_fields_set__
        if "started_at" in sent and started is not None and started.utcoffset() is not None:
            self.utc_offset_minutes = int(started.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
            sent.add("utc_offset_minutes")
        else:
            self.utc_offset_minutes = None
            sent.discard("utc_offset_minutes")
        return self


class AnswersOffset(BaseModel):
    utc_offset_minutes: SkipJsonSchema[int] = Field(default=0, exclude=True)

    @model_validator(mode="after")
    def _start_at_its_offset(self) -> AnswersOffset:
        started: datetime | None = getattr(self, "started_at", None)
        if started is not None and self.utc_offset_minutes:
            self.started_at = started.astimezone(timezone(timedelta(minutes=self.utc_offset_minutes)))
        return self


NULLABLE_NUMBER: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "null"}]}


def _exercise_slug(value: Any) -> Any:
    """A set's exercise as a GET answers it (``{slug, name}``) is taken as its slug."""
    if isinstance(value, dict) and "slug" in value and set(value) <= {"slug", "name"}:
        return value["slug"]
    return value


ExerciseSlug = Annotated[
    str,
    BeforeValidator(_exercise_slug),
    Field(pattern=SLUG_PATTERN, max_length=80),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 80},
                {
                    "type": "object",
                    "properties": {
                        "slug": {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 80},
                        "name": {"type": "string", "readOnly": True},
                    },
                    "required": ["slug"],
                    "additionalProperties": False,
                    "description": "The exercise as a GET answers it; its name is ignored.",
                },
            ]
        }
    ),
]


class SetIn(InputModel):
    position: StrictInt = Field(ge=1, le=MAX_SETS, description="Order within the workout, from 1; unique.")
    exercise: ExerciseSlug = Field(description="A catalogue exercise slug (or `{slug, name}` as a GET answers it).")
    side: Side = Field(default=Side.both, description="left, right or both.")
    reps: StrictInt | None = Field(default=None, ge=0, le=1000, description="Repetitions done.")
    hold_seconds: StrictInt | None = Field(default=None, ge=0, le=3600, description="Seconds held (isometrics).")
    load_kg: StrictFloat = Field(
        default=0, ge=-500, le=1000, description="Added load in kg; 0 = body weight; negative = assisted."
    )
    tempo: str | None = Field(
        default=None, pattern=TEMPO_PATTERN, max_length=20, description="Seconds lowering-pause-lifting, e.g. 3-0-3."
    )
    rpe: Rating | None = Field(default=None, description="Rate of perceived exertion of the set, 0-10.")
    rir: StrictInt | None = Field(default=None, ge=0, le=10, description="Repetitions in reserve.")
    completed: StrictBool = Field(default=True, description="Whether the set was completed as planned.")

    @model_validator(mode="after")
    def _volume(self) -> SetIn:
        if self.reps is None and self.hold_seconds is None:
            raise ValueError("a set records reps or hold_seconds")
        return self


DEPRECATED: dict[str, Any] = {"deprecated": True}  # in the schema only: no warning when the server reads it


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def rounded_minutes(seconds: int) -> int:
    """What the deprecated `duration_minutes` answers: the seconds to the nearest minute, at least 1."""
    return max(1, (seconds + 30) // 60)


def _spell_out(data: Any, new: str, old: str, from_old: Callable[[int], int]) -> Any:
    """Take the deprecated name `old` for `new` when only `old` is sent (values of the wrong
    type pass through, so the error names the field as before)."""
    if isinstance(data, dict) and old in data and new not in data:
        value = data[old]
        return {**data, new: from_old(value) if _whole(value) else value}
    return data


def _agree(old: str, new: str, value: Any, info: ValidationInfo, as_old: Callable[[int], int]) -> Any:
    other: Any = info.data.get(new)
    if value is not None and _whole(other) and as_old(other) != value:
        raise ValueError(f"{old} (the old name of {new}) differs from {new}: send {new} only")
    return value


def _minutes_to_seconds(minutes: int) -> int:
    return minutes * 60


def _same(value: int) -> int:
    return value


class SecondsOrOldName(BaseModel):
    """`duration_seconds` or its deprecated old name must be sent; the schema therefore
    requires neither by itself (a body with only the old name is valid), and the server
    answers 422 when both are missing."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = super().__get_pydantic_json_schema__(core_schema, handler)
        target = handler.resolve_ref_schema(schema)
        required = [name for name in target.get("required", []) if name != "duration_seconds"]
        if required:
            target["required"] = required
        else:
            target.pop("required", None)
        return schema


class MinutesStillTaken(SecondsOrOldName):
    """`duration_minutes`, the old name of `duration_seconds`, still accepted."""

    @model_validator(mode="before")
    @classmethod
    def _from_minutes(cls, data: Any) -> Any:
        return _spell_out(data, "duration_seconds", "duration_minutes", _minutes_to_seconds)

    @field_validator("duration_minutes", check_fields=False)
    @classmethod
    def _minutes_agree(cls, value: Any, info: ValidationInfo) -> Any:
        return _agree("duration_minutes", "duration_seconds", value, info, rounded_minutes)


class DurationSStillTaken(SecondsOrOldName):
    """`duration_s`, the old name of `duration_seconds`, still accepted."""

    @model_validator(mode="before")
    @classmethod
    def _from_duration_s(cls, data: Any) -> Any:
        return _spell_out(data, "duration_seconds", "duration_s", _same)

    @field_validator("duration_s", check_fields=False)
    @classmethod
    def _duration_s_agrees(cls, value: Any, info: ValidationInfo) -> Any:
        return _agree("duration_s", "duration_seconds", value, info, _same)


DEPRECATED_MINUTES = (
    "Deprecated: the old name of `duration_seconds`, in whole minutes (rounded, at least 1); "
    "accepted and returned. Sent with `duration_seconds`, it must agree."
)
DEPRECATED_DURATION_S = (
    "Deprecated: the old name of `duration_seconds`; accepted and returned. "
    "Sent with `duration_seconds`, it must agree."
)


class WorkoutFields(MinutesStillTaken, KeepsOffset, InputModel):
    started_at: Instant = Field(
        description="When it started, with a UTC offset.", examples=["2026-11-20T18:30:00+01:00"]
    )
    duration_seconds: StrictInt = Field(
        ge=1, le=MAX_WORKOUT_S, description="How long it took, in seconds (at most a day)."
    )
    duration_minutes: StrictInt | None = Field(
        default=None, ge=1, le=1440, exclude=True, json_schema_extra=DEPRECATED, description=DEPRECATED_MINUTES
    )
    planned_session_id: uuid.UUID | None = Field(default=None, description="The planned session it fulfils, if any.")
    session_rpe: Rating | None = Field(default=None, description="Session RPE, 0-10 (CR-10).")
    pain_during: Pain | None = Field(default=None, description="Worst pain during the session, 0-10.")
    pain_site: Site | None = Field(default=None, description="Where the pain was, e.g. left-achilles.")
    notes: Notes | None = Field(default=None, description="Free notes.")


def _unique_positions(sets: list[SetIn] | None) -> list[SetIn] | None:
    if sets is not None:
        positions = [s.position for s in sets]
        if len(positions) != len(set(positions)):
            raise ValueError("two sets share a position")
    return sets


class WorkoutIn(WorkoutFields, WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = {**VERSIONED_READ_ONLY, "session_load": NULLABLE_NUMBER}
    sets: list[SetIn] = Field(default=[], max_length=MAX_SETS, description=f"The sets, at most {MAX_SETS}.")

    _positions = field_validator("sets")(_unique_positions)


class WorkoutPatch(MinutesStillTaken, KeepsOffset, WritableBack):
    """Fields to change; `sets`, when sent, replaces every set."""

    read_only: ClassVar[dict[str, dict[str, Any]]] = WorkoutIn.read_only

    started_at: Instant | None = Field(default=None, description="When it started, with a UTC offset.")
    duration_seconds: StrictInt | None = Field(
        default=None, ge=1, le=MAX_WORKOUT_S, description="How long it took, in seconds."
    )
    duration_minutes: StrictInt | None = Field(
        default=None, ge=1, le=1440, exclude=True, json_schema_extra=DEPRECATED, description=DEPRECATED_MINUTES
    )
    planned_session_id: uuid.UUID | None = Field(default=None, description="The planned session it fulfils.")
    session_rpe: Rating | None = Field(default=None, description="Session RPE, 0-10.")
    pain_during: Pain | None = Field(default=None, description="Worst pain during, 0-10.")
    pain_site: Site | None = Field(default=None, description="Where the pain was.")
    notes: Notes | None = Field(default=None, description="Free notes.")
    sets: list[SetIn] | None = Field(default=None, max_length=MAX_SETS, description="Replaces all sets.")

    _positions = field_validator("sets")(_unique_positions)


class SetPublic(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    position: StrictInt = Field(description="Order within the workout.")
    exercise: Ref = Field(description="The catalogue exercise.")
    side: Side = Field(description="left, right or both.")
    reps: StrictInt | None = Field(description="Repetitions done.")
    hold_seconds: StrictInt | None = Field(description="Seconds held.")
    load_kg: StrictFloat = Field(description="Added load in kg; 0 = body weight; negative = assisted.")
    tempo: str | None = Field(description="Tempo.")
    rpe: StrictFloat | None = Field(description="Set RPE.")
    rir: StrictInt | None = Field(description="Repetitions in reserve.")
    completed: bool = Field(description="Completed as planned.")


class Versioned(BaseModel):
    # A record whose derived figures are not finite fails here, before its commit: never
    # stored and then answered with an error.
    model_config = ConfigDict(allow_inf_nan=False)

    id: uuid.UUID = Field(description="The record's id (client-chosen with PUT, or assigned).")
    athlete_id: uuid.UUID = Field(description="Whose record it is.")
    version: StrictInt = Field(description="Goes up by one on every change; the ETag is its quoted value.")
    created_at: datetime = Field(description="When it was first stored.")
    updated_at: datetime = Field(description="When it last changed.")


class WorkoutPublic(AnswersOffset, Versioned):
    started_at: datetime = Field(description="When it started, with the UTC offset it was sent with.")
    duration_seconds: StrictInt = Field(description="How long it took, in seconds.")
    duration_minutes: StrictInt = Field(
        json_schema_extra=DEPRECATED,
        description="Deprecated: `duration_seconds` in whole minutes (rounded, at least 1); still answered.",
    )
    planned_session_id: uuid.UUID | None = Field(description="The planned session it fulfils.")
    session_rpe: StrictFloat | None = Field(description="Session RPE.")
    session_load: StrictFloat | None = Field(description="Session RPE x minutes (Foster 2001), when RPE is known.")
    pain_during: StrictInt | None = Field(description="Worst pain during, 0-10.")
    pain_site: str | None = Field(description="Where the pain was.")
    notes: str | None = Field(description="Free notes.")
    sets: list[SetPublic] = Field(description="The sets, by position.")


# ---------------------------------------------------------------- runs


class RunIn(DurationSStillTaken, KeepsOffset, WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = {
        **VERSIONED_READ_ONLY,
        "pace_seconds_per_km": {"type": "number"},
        "pace_s_per_km": {"type": "number", "deprecated": True},
        "session_load": NULLABLE_NUMBER,
        "source": {"type": "string", "enum": ["manual", "fit", "gpx"]},
    }

    started_at: Instant = Field(description="When it started, with a UTC offset.")
    distance_km: StrictFloat = Field(ge=MIN_RUN_KM, le=MAX_RUN_KM, description="Distance in km, 0.01-1000.")
    duration_seconds: StrictInt = Field(ge=1, le=MAX_RUN_S, description="Elapsed time in seconds, at most 7 days.")
    duration_s: StrictInt | None = Field(
        default=None, ge=1, le=MAX_RUN_S, exclude=True, json_schema_extra=DEPRECATED, description=DEPRECATED_DURATION_S
    )
    session_rpe: Rating | None = Field(default=None, description="Session RPE, 0-10.")
    type: RunType = Field(default=RunType.easy, description="easy, long, tempo, intervals, hills or race.")
    surface: Surface | None = Field(default=None, description="What it was run on.")
    pain_during: Pain | None = Field(default=None, description="Worst pain during, 0-10.")
    pain_site: Site | None = Field(default=None, description="Where the pain was.")
    notes: Notes | None = Field(default=None, description="Free notes.")


class RunPatch(DurationSStillTaken, KeepsOffset, WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = RunIn.read_only

    started_at: Instant | None = Field(default=None, description="When it started.")
    distance_km: StrictFloat | None = Field(
        default=None, ge=MIN_RUN_KM, le=MAX_RUN_KM, description="Distance in km, 0.01-1000."
    )
    duration_seconds: StrictInt | None = Field(default=None, ge=1, le=MAX_RUN_S, description="Elapsed seconds.")
    duration_s: StrictInt | None = Field(
        default=None, ge=1, le=MAX_RUN_S, exclude=True, json_schema_extra=DEPRECATED, description=DEPRECATED_DURATION_S
    )
    session_rpe: Rating | None = Field(default=None, description="Session RPE.")
    type: RunType | None = Field(default=None, description="Kind of run.")
    surface: Surface | None = Field(default=None, description="What it was run on.")
    pain_during: Pain | None = Field(default=None, description="Worst pain during.")
    pain_site: Site | None = Field(default=None, description="Where the pain was.")
    notes: Notes | None = Field(default=None, description="Free notes.")


class RunPublic(AnswersOffset, Versioned):
    started_at: datetime = Field(description="When it started, with the UTC offset it was sent with.")
    distance_km: StrictFloat = Field(description="Distance in km.")
    duration_seconds: StrictInt = Field(description="Elapsed seconds.")
    duration_s: StrictInt = Field(
        json_schema_extra=DEPRECATED, description="Deprecated: the old name of `duration_seconds`."
    )
    pace_seconds_per_km: StrictFloat = Field(description="Average pace, seconds per km.")
    pace_s_per_km: StrictFloat = Field(
        json_schema_extra=DEPRECATED, description="Deprecated: the old name of `pace_seconds_per_km`."
    )
    session_rpe: StrictFloat | None = Field(description="Session RPE.")
    session_load: StrictFloat | None = Field(description="Session RPE x minutes, when RPE is known.")
    type: RunType = Field(description="Kind of run.")
    surface: Surface | None = Field(description="What it was run on.")
    pain_during: StrictInt | None = Field(description="Worst pain during.")
    pain_site: str | None = Field(description="Where the pain was.")
    notes: str | None = Field(description="Free notes.")
    source: Literal["manual", "fit", "gpx"] = Field(description="How it was recorded.")


# ---------------------------------------------------------------- pain check-ins


class SiteReport(InputModel):
    site: Site = Field(description="Where, e.g. left-achilles.")
    pain: Pain = Field(description="Pain on waking, 0-10.")
    morning_stiffness: Pain = Field(description="Morning stiffness, 0-10.")


class CheckInIn(WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = VERSIONED_READ_ONLY

    date: Day = Field(description="The morning it describes.")
    sites: list[SiteReport] = Field(min_length=1, max_length=20, description="One report per site.")
    visa_a: StrictInt | None = Field(default=None, ge=0, le=100, description="VISA-A total, 0-100 (100 = no symptoms).")
    notes: Notes | None = Field(default=None, description="Free notes.")

    @field_validator("sites")
    @classmethod
    def _unique_sites(cls, sites: list[SiteReport]) -> list[SiteReport]:
        names = [s.site for s in sites]
        if len(names) != len(set(names)):
            raise ValueError("a site is reported twice")
        return sites


class CheckInPatch(WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = VERSIONED_READ_ONLY

    date: Day | None = Field(default=None, description="The morning it describes.")
    sites: list[SiteReport] | None = Field(
        default=None, min_length=1, max_length=20, description="Replaces the reports."
    )
    visa_a: StrictInt | None = Field(default=None, ge=0, le=100, description="VISA-A total.")
    notes: Notes | None = Field(default=None, description="Free notes.")


class SiteReportPublic(BaseModel):
    site: str = Field(description="Where.")
    pain: StrictInt = Field(description="Pain on waking, 0-10.")
    morning_stiffness: StrictInt = Field(description="Morning stiffness, 0-10.")


class CheckInPublic(Versioned):
    date: Day = Field(description="The morning it describes.")
    sites: list[SiteReportPublic] = Field(description="One report per site.")
    visa_a: StrictInt | None = Field(description="VISA-A total, 0-100.")
    notes: str | None = Field(description="Free notes.")


# ---------------------------------------------------------------- clinical tests

SideValue = Annotated[StrictFloat, Field(ge=0, le=1000)]


def _check_test(test: str, measure: str, left: float | None, right: float | None) -> None:
    found = criteria.problems(test, measure, left, right)
    if found:
        raise ValueError("; ".join(f"{name}: {message}" for name, message in found))


class ClinicalTestIn(WritableBack):
    read_only: ClassVar[dict[str, dict[str, Any]]] = {
        **VERSIONED_READ_ONLY,
        "limb_symmetry_index": NULLABLE_NUMBER,
        "passed": {"$ref": "#/components/schemas/ClinicalVerdict"},
    }

    date: Day = Field(description="The day the test was done.")
    test: ClinicalTestName = Field(description="heel-raise (single-leg heel raises) or hop (single-leg hops).")
    measure: Measure = Field(
        description="What each side records: reps for heel-raise; count or distance_cm for hop.",
    )
    left: SideValue | None = Field(
        default=None, description="The left leg's result (reps and count at most 300, distance at most 1000 cm)."
    )
    right: SideValue | None = Field(default=None, description="The right leg's result.")
    affected_side: AffectedSide | None = Field(default=None, description="The painful side: left, right or both.")
    pain: Pain | None = Field(default=None, description="Worst Achilles pain during the test, 0-10.")
    notes: Notes | None = Field(default=None, description="Free notes.")

    @model_validator(mode="after")
    def _consistent(self) -> ClinicalTestIn:
        _check_test(self.test, self.measure, self.left, self.right)
        return self


class ClinicalTestPatch(WritableBack):
    """Fields to change; the result must still be a valid test."""

    read_only: ClassVar[dict[str, dict[str, Any]]] = ClinicalTestIn.read_only

    date: Day | None = Field(default=None, description="The day the test was done.")
    test: ClinicalTestName | None = Field(default=None, description="heel-raise or hop.")
    measure: Measure | None = Field(default=None, description="reps, count or distance_cm.")
    left: SideValue | None = Field(default=None, description="The left leg's result.")
    right: SideValue | None = Field(default=None, description="The right leg's result.")
    affected_side: AffectedSide | None = Field(default=None, description="left, right or both.")
    pain: Pain | None = Field(default=None, description="Worst Achilles pain during the test, 0-10.")
    notes: Notes | None = Field(default=None, description="Free notes.")


class ClinicalTestPublic(Versioned):
    date: Day = Field(description="The day the test was done.")
    test: ClinicalTestName = Field(description="heel-raise or hop.")
    measure: Measure = Field(description="reps, count or distance_cm.")
    left: StrictFloat | None = Field(description="The left leg's result.")
    right: StrictFloat | None = Field(description="The right leg's result.")
    affected_side: AffectedSide | None = Field(description="The painful side.")
    pain: StrictInt | None = Field(description="Worst Achilles pain during the test, 0-10.")
    notes: str | None = Field(description="Free notes.")
    limb_symmetry_index: StrictFloat | None = Field(
        description="Affected over unaffected side x 100, in percent; null unless exactly one side is affected "
        "and both sides were recorded."
    )
    passed: criteria.ClinicalVerdict = Field(description="Whether the test meets the evidence thresholds, and why.")


# ---------------------------------------------------------------- lists and sync


class CursorPage(BaseModel, Generic[T]):
    items: list[T] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class _Change(BaseModel):
    seq: StrictInt = Field(description="Position in the athlete's change feed.")
    id: uuid.UUID = Field(description="The record's id.")
    op: Literal["upsert", "delete"] = Field(description="upsert: created or changed; delete: a tombstone.")
    version: StrictInt = Field(description="The record's version after the change.")
    changed_at: datetime = Field(description="When the change was committed.")


class WorkoutChange(_Change):
    entity: Literal["workout"] = Field(description="The kind of record.")
    record: WorkoutPublic | None = Field(description="The workout as it is now (null for a deletion).")


class RunChange(_Change):
    entity: Literal["run"] = Field(description="The kind of record.")
    record: RunPublic | None = Field(description="The run as it is now (null for a deletion).")


class CheckInChange(_Change):
    entity: Literal["checkin"] = Field(description="The kind of record.")
    record: CheckInPublic | None = Field(description="The check-in as it is now (null for a deletion).")


class ClinicalTestChange(_Change):
    entity: Literal["test"] = Field(description="The kind of record.")
    record: ClinicalTestPublic | None = Field(description="The clinical test as it is now (null for a deletion).")


ChangePublic = Annotated[
    WorkoutChange | RunChange | CheckInChange | ClinicalTestChange,
    Field(discriminator="entity", description="One change; `entity` says which kind of record `record` is."),
]


class ChangeFeed(BaseModel):
    changes: list[ChangePublic] = Field(
        description="Changes after `since`, oldest first; each record appears once, at its latest change."
    )
    next_since: StrictInt = Field(description="Pass as `since` next time.")
    has_more: bool = Field(description="Whether more changes wait; fetch again at once.")


class Export(BaseModel):
    athlete_id: uuid.UUID = Field(description="Whose data it is.")
    exported_at: datetime = Field(description="When the export started.")
    workouts: list[WorkoutPublic] = Field(description="Every workout.")
    runs: list[RunPublic] = Field(description="Every run.")
    checkins: list[CheckInPublic] = Field(description="Every pain check-in.")
    tests: list[ClinicalTestPublic] = Field(description="Every clinical test.")
