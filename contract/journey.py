"""The main journey of a new client, with the Python client openapi-python-client generates
from openapi.json (package ``runstrong_client``, built by contract/run into contract/build
and never committed or edited). contract/run starts a server, runs this with RUNSTRONG_URL
and type-checks it with mypy --strict first.

Nothing here works around the contract: bodies are the generated models, files are read
through the generated functions, and what is read back is sent back as it came.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from runstrong_client import AuthenticatedClient, Client
from runstrong_client.api.analytics import get_load, get_load_chart
from runstrong_client.api.athletes import get_profile, update_profile
from runstrong_client.api.auth import login, register
from runstrong_client.api.plans import create_plan, plan_calendar, preview_plan
from runstrong_client.api.workouts import create_workout, get_workout, list_workouts, put_workout
from runstrong_client.models import (
    BodyLogin,
    CursorPageWorkoutPublic,
    Experience,
    LoadReport,
    PainSite,
    PlanCreate,
    PlanDraft,
    PlanKind,
    PlanProfile,
    PlanPublic,
    PreviewRequest,
    ProfilePublic,
    ProfileUpdate,
    RegisterRequest,
    RegistrationAccepted,
    SetIn,
    Side,
    TokenPair,
    WorkoutIn,
    WorkoutPublic,
)
from runstrong_client.types import Response

T = TypeVar("T")
PASSWORD = "a long passphrase"  # noqa: S105  # a test account on a throwaway database


class Skip(Exception):
    """A step that cannot run because an earlier one failed."""


class Failed(Exception):
    """What the contract promised did not happen."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def parsed(response: Response[Any], status: int, kind: type[T]) -> T:
    """The typed body of a response with this status, or a failure saying what came instead."""
    check(
        response.status_code == status,
        f"expected HTTP {status}, got {int(response.status_code)}: {response.content[:600]!r}",
    )
    body = response.parsed
    if not isinstance(body, kind):
        raise Failed(f"expected a {kind.__name__}, the client parsed {type(body).__name__}")
    return body


def media(response: Response[Any], expected: str) -> None:
    value = response.headers.get("content-type", "")
    check(value.split(";")[0].strip() == expected, f"expected Content-Type {expected}, got {value!r}")


def day(offset: int) -> dt.date:
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)


def next_monday() -> dt.date:
    today = day(0)
    return today + dt.timedelta(days=7 - today.weekday() + 7)


@dataclass
class Journey:
    base_url: str
    email: str = field(default_factory=lambda: f"py-{uuid.uuid4().hex[:8]}@example.com")
    started_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.combine(day(-3), dt.time(18, 30), dt.timezone(dt.timedelta(hours=1)))
    )
    api: AuthenticatedClient | None = None
    plan: PlanPublic | None = None
    workout: WorkoutPublic | None = None
    etag: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def public(self) -> Client:
        return Client(base_url=self.base_url, raise_on_unexpected_status=True)

    def need(self, value: T | None, what: str) -> T:
        if value is None:
            raise Skip(f"needs {what}, which an earlier step did not give")
        return value

    def step(self, name: str, run: Callable[[], None]) -> None:
        try:
            run()
        except Skip as skipped:
            print(f"skip  {name}: {skipped}", flush=True)
        except Exception as error:
            self.failures.append(name)
            where = "" if isinstance(error, Failed) else "\n" + "".join(traceback.format_exception(error)[-3:])
            print(f"FAIL  {name}: {type(error).__name__}: {error}{where}", flush=True)
        else:
            print(f"ok    {name}", flush=True)

    # ---- the steps -------------------------------------------------------------------------

    def register(self) -> None:
        body = RegisterRequest(email=self.email, password=PASSWORD, display_name="Ana (Python)")
        answer = parsed(register.sync_detailed(client=self.public, body=body), 202, RegistrationAccepted)
        check(answer.email == self.email, f"registration answered for {answer.email}")

    def log_in(self) -> None:
        body = BodyLogin(username=self.email, password=PASSWORD)
        tokens = parsed(login.sync_detailed(client=self.public, body=body), 200, TokenPair)
        check(tokens.token_type == "bearer", f"token_type {tokens.token_type}")  # noqa: S105
        check(tokens.expires_in > 0, f"expires_in {tokens.expires_in}")
        self.api = AuthenticatedClient(
            base_url=self.base_url, token=tokens.access_token, raise_on_unexpected_status=True
        )

    def profile(self) -> None:
        api = self.need(self.api, "a login")
        parsed(get_profile.sync_detailed("me", client=api), 200, ProfilePublic)
        update = ProfileUpdate(
            experience=Experience.INTERMEDIATE,
            weekly_distance_km=40,
            equipment=["step", "dumbbell"],
            achilles_pain=3,
            achilles_pain_site=PainSite.MID_PORTION,
        )
        profile = parsed(update_profile.sync_detailed("me", client=api, body=update), 200, ProfilePublic)
        check(profile.experience == Experience.INTERMEDIATE, f"experience {profile.experience}")
        check(profile.weekly_distance_km == 40, f"weekly_distance_km {profile.weekly_distance_km}")
        check(profile.achilles_pain_site == PainSite.MID_PORTION, f"achilles_pain_site {profile.achilles_pain_site}")

    def preview(self) -> None:
        # Only what this runner knows; the same enums as the stored profile.
        profile = PlanProfile(
            achilles_pain=3, achilles_pain_site=PainSite.MID_PORTION, single_leg_heel_raises=15, equipment=["step"]
        )
        body = PreviewRequest(kind=PlanKind.ACHILLES, start_date=next_monday(), profile=profile)
        draft = parsed(preview_plan.sync_detailed(client=self.public, body=body), 200, PlanDraft)
        check(draft.kind == PlanKind.ACHILLES, f"kind {draft.kind}")
        check(len(draft.weeks) >= 12, f"{len(draft.weeks)} weeks")
        check(any(week.sessions for week in draft.weeks), "no sessions")

    def create_plan(self) -> None:
        api = self.need(self.api, "a login")
        key = str(uuid.uuid4())
        body = PlanCreate(kind=PlanKind.ACHILLES, start_date=next_monday())
        plan = parsed(create_plan.sync_detailed("me", client=api, body=body, idempotency_key=key), 201, PlanPublic)
        check(plan.kind == PlanKind.ACHILLES, f"kind {plan.kind}")
        self.plan = plan
        retry = create_plan.sync_detailed("me", client=api, body=body, idempotency_key=key)
        check(parsed(retry, 201, PlanPublic).id == plan.id, "the retry created another plan")
        check(retry.headers.get("idempotent-replayed") == "true", "the retry was not marked Idempotent-Replayed")

    def log_workout(self) -> None:
        api = self.need(self.api, "a login")
        key = str(uuid.uuid4())
        body = WorkoutIn(
            started_at=self.started_at,
            duration_seconds=2700,
            session_rpe=6,
            pain_during=2,
            pain_site="left-achilles",
            sets=[
                SetIn(position=1, exercise="eccentric-heel-raise", side=Side.LEFT, reps=12, load_kg=10, tempo="3-0-1"),
                SetIn(position=2, exercise="plank", hold_seconds=45, rpe=7.5),
            ],
        )
        first = create_workout.sync_detailed("me", client=api, body=body, idempotency_key=key)
        workout = parsed(first, 201, WorkoutPublic)
        self.workout = workout
        check(workout.version == 1, f"version {workout.version}")
        check(workout.session_load == 270, f"session_load {workout.session_load} (6 x 45)")
        check([s.position for s in workout.sets] == [1, 2], "sets out of order")
        check(workout.sets[1].side == Side.BOTH and workout.sets[1].load_kg == 0, "the defaults were not applied")
        check(first.headers.get("etag") == '"1"', f"ETag {first.headers.get('etag')}")
        check(first.headers.get("location", "").endswith(f"/workouts/{workout.id}"), "no Location of the workout")
        retry = create_workout.sync_detailed("me", client=api, body=body, idempotency_key=key)
        check(parsed(retry, 201, WorkoutPublic).id == workout.id, "the retry recorded a second workout")
        check(retry.headers.get("idempotent-replayed") == "true", "the retry was not marked Idempotent-Replayed")

    def read_workout(self) -> None:
        api = self.need(self.api, "a login")
        logged = self.need(self.workout, "a workout")
        response = get_workout.sync_detailed("me", logged.id, client=api)
        workout = parsed(response, 200, WorkoutPublic)
        check(workout.id == logged.id, f"read {workout.id}")
        check(workout.started_at == self.started_at, f"started_at {workout.started_at} is another instant")
        self.etag = response.headers.get("etag")
        check(self.etag == f'"{workout.version}"', f"ETag {self.etag} for version {workout.version}")
        self.workout = workout

    def offset_kept(self) -> None:
        workout = self.need(self.workout, "a workout")
        offset = workout.started_at.utcoffset()
        check(offset == dt.timedelta(hours=1), f"started_at came back at UTC offset {offset}, it was sent at +01:00")

    def put_back(self) -> None:
        api = self.need(self.api, "a login")
        workout = self.need(self.workout, "a workout read back")
        etag = self.need(self.etag, "an ETag")
        # What was read is sent back as it came: the client keeps no second model of a workout.
        body = WorkoutIn.from_dict(workout.to_dict())
        response = put_workout.sync_detailed("me", workout.id, client=api, body=body, if_match=etag)
        again = parsed(response, 200, WorkoutPublic)
        check(again.version == workout.version, f"an unchanged PUT made version {again.version} of {workout.version}")
        check(again.to_dict()["sets"] == workout.to_dict()["sets"], "the sets changed")

    def list_workouts(self) -> None:
        api = self.need(self.api, "a login")
        workout = self.need(self.workout, "a workout")
        page = parsed(list_workouts.sync_detailed("me", client=api, limit=10), 200, CursorPageWorkoutPublic)
        check([item.id for item in page.items] == [workout.id], f"listed {[item.id for item in page.items]}")
        check(page.next_cursor is None, f"next_cursor {page.next_cursor}")

    def load(self) -> None:
        api = self.need(self.api, "a login")
        self.need(self.workout, "a workout")
        report = parsed(get_load.sync_detailed("me", client=api), 200, LoadReport)
        check(len(report.weeks) >= 12, f"{len(report.weeks)} weeks")
        check(any(w.workouts == 1 and w.load == 270 for w in report.weeks), "no week holds the workout's load of 270")

    def load_chart(self) -> None:
        api = self.need(self.api, "a login")
        response = get_load_chart.sync_detailed("me", client=api)
        svg = parsed(response, 200, str)
        media(response, "image/svg+xml")
        check("<svg" in svg, "not an SVG document")

    def calendar(self) -> None:
        api = self.need(self.api, "a login")
        plan = self.need(self.plan, "a plan")
        response = plan_calendar.sync_detailed("me", plan.id, client=api)
        ics = parsed(response, 200, str)
        media(response, "text/calendar")
        check(ics.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in ics, "not an iCalendar file with sessions")

    def export_csv(self) -> None:
        # Imported here so that a contract without the route fails this step, not the journey.
        from runstrong_client.api.sync import export_csv

        api = self.need(self.api, "a login")
        workout = self.need(self.workout, "a workout")
        response = export_csv.sync_detailed("me", client=api)
        csv = parsed(response, 200, str)
        media(response, "text/csv")
        lines = csv.strip().splitlines()
        check(lines[0].startswith("workout_id,"), f"header {lines[0]!r}")
        check(len(lines) == 3 and all(line.startswith(f"{workout.id},") for line in lines[1:]), "not a row per set")

    def run(self) -> int:
        self.step("register", self.register)
        self.step("log in", self.log_in)
        self.step("read and update the profile", self.profile)
        self.step("preview a plan (no account)", self.preview)
        self.step("create a plan, retried with its Idempotency-Key", self.create_plan)
        self.step("log a workout with an Idempotency-Key, and retry it", self.log_workout)
        self.step("read the workout back", self.read_workout)
        self.step("the workout keeps the UTC offset it was sent with", self.offset_kept)
        self.step("PUT the workout back unchanged, with If-Match", self.put_back)
        self.step("list workouts", self.list_workouts)
        self.step("load analytics", self.load)
        self.step("download the load chart (SVG)", self.load_chart)
        self.step("download the plan calendar (ICS)", self.calendar)
        self.step("download the export (CSV)", self.export_csv)
        if self.failures:
            print(f"Python journey: {len(self.failures)} step(s) failed: {'; '.join(self.failures)}")
            return 1
        print("Python journey: every step passed")
        return 0


if __name__ == "__main__":
    sys.exit(Journey(os.environ["RUNSTRONG_URL"]).run())
