"""Request examples for the contract, by operationId: the README's curl examples, so the
documentation pages and generated clients show a body that works. A test validates each
against its operation's schema, so a shape change cannot leave an example behind."""

from __future__ import annotations

from typing import Any

WORKOUT = {
    "started_at": "2026-11-20T18:30:00+01:00",
    "duration_seconds": 2700,
    "session_rpe": 6,
    "pain_during": 2,
    "pain_site": "left-achilles",
    "sets": [
        {
            "position": 1,
            "exercise": "eccentric-heel-raise",
            "side": "left",
            "reps": 12,
            "load_kg": 10,
            "tempo": "3-0-1",
        },
        {"position": 2, "exercise": "plank", "hold_seconds": 45, "rpe": 7.5},
    ],
}
RUN = {"started_at": "2026-11-21T07:05:00+01:00", "distance_km": 8.4, "duration_seconds": 2820, "session_rpe": 4}
CHECKIN = {"date": "2026-11-21", "visa_a": 82, "sites": [{"site": "left-achilles", "pain": 2, "morning_stiffness": 3}]}
CLINICAL_TEST = {
    "date": "2026-11-30",
    "test": "heel-raise",
    "measure": "reps",
    "left": 18,
    "right": 27,
    "affected_side": "left",
    "pain": 3,
}
PROFILE = {
    "experience": "intermediate",
    "weekly_distance_km": 40,
    "equipment": ["step", "dumbbell"],
    "achilles_pain": 3,
    "achilles_pain_site": "mid-portion",
    "goal": "marathon",
    "goal_race_date": "2027-04-18",
    "running_days": ["tuesday", "thursday", "sunday"],
    "long_run_day": "sunday",
}
REFRESH = {"refresh_token": "rs_rt_3q2Vw0b4Jm7Kx9Lp1Zr8Tn6Yc5Hd2Fg0"}

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "register": {"email": "ana@example.com", "password": "a long passphrase", "display_name": "Ana"},
    "refresh": REFRESH,
    "logout": REFRESH,
    "update_me": {"display_name": "Ana", "units": "kg", "timezone": "Europe/Madrid"},
    "change_password": {"current_password": "a long passphrase", "new_password": "an even longer passphrase"},
    "create_token": {"name": "CoachApp sync", "scopes": ["training:read", "plans:read"], "expires_in_days": 90},
    "create_grant": {"coach_email": "coach@example.com", "access": "read"},
    "update_profile": PROFILE,
    "create_workout": WORKOUT,
    "put_workout": WORKOUT,
    "update_workout": {"session_rpe": 7, "notes": "Left calf tight on the last set."},
    "create_run": RUN,
    "put_run": RUN,
    "update_run": {"pain_during": 1},
    "create_checkin": CHECKIN,
    "put_checkin": CHECKIN,
    "update_checkin": {"visa_a": 85},
    "create_test": CLINICAL_TEST,
    "put_test": CLINICAL_TEST,
    "update_test": {"pain": 2},
    "preview_plan": {
        "kind": "achilles",
        "start_date": "2026-11-23",
        "profile": {
            "achilles_pain": 3,
            "achilles_pain_site": "mid-portion",
            "single_leg_heel_raises": 15,
            "equipment": ["seated-calf-raise-machine", "leg-press-machine", "standing-calf-raise-machine"],
        },
    },
    "create_plan": {
        "kind": "return-to-run",
        "options": {"run_step_weeks": 1, "criteria_overrides": {"heel-raise-symmetry-90": 85}},
    },
    "adapt_plan": {"week": 3},
}


def add_examples(schema: dict[str, Any]) -> None:
    """Put each operation's request example on its request body."""
    for item in schema["paths"].values():
        for operation in item.values():
            example = REQUEST_EXAMPLES.get(operation.get("operationId", ""))
            if example is not None and "requestBody" in operation:
                for media in operation["requestBody"]["content"].values():
                    media["example"] = example
