"""Property-based contract tests over every operation: no 5xx, and every response
conforms to the published schema (status, headers, content type, body).

The operations are split into groups by path, one test per group, so the groups run in
parallel under pytest-xdist; the last group takes every operation the others do not name,
so a new route is always covered."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.pytest.lazy import LazySchema

from tests.conftest import register

schema = schemathesis.pytest.from_fixture("api_schema")


# The default checks, with two documented expectations: a schema-valid body can still name
# something that does not exist (an unknown exercise, equipment the catalogue lacks, a
# protocol without its machines); the API answers 422 naming the field, as it promises. And
# a write without If-Match answers 428, and with a generated one (naming no current
# version) 412, as documented. The OAuth2 endpoints answer RFC 6749's 400 (an unknown
# client, code or redirect URI is a schema-valid string).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            # A PATCH without its required If-Match is a 428 Precondition Required (RFC 6585).
            "missing_required_header": {"expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]},
        },
        "operations": [
            {
                "include-path-regex": r"^/oauth/",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
            }
        ],
    }
)

ATHLETE = r"/v1/athletes/\{athlete_id\}"
# Path patterns of the groups; every operation matching none of them is in the last group.
GROUPS = {
    "health_and_reference": r"^/(healthz|readyz|v1/(sources|muscles|phases|structures|equipment|injuries)(/|$))",
    "exercises_and_protocols": r"^/v1/(exercises|progressions|protocols)(/|$)",
    "auth": r"^/v1/auth/",
    "me": r"^/v1/me(/|$)",
    "oauth": r"^/(oauth/|\.well-known/)",
    "workouts": rf"^{ATHLETE}/workouts(/|$)",
    "runs": rf"^{ATHLETE}/runs(/|$)",
    "checkins": rf"^{ATHLETE}/checkins(/|$)",
    "plans": rf"^(/v1/plans|{ATHLETE}/plans)(/|\.|$)",
    "webhooks_and_feeds": r"^/v1/(webhooks|me/feeds|feeds)(/|$)",
}


@pytest.fixture
def api_schema(app: FastAPI) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


@pytest.fixture
def auth_headers(client: TestClient) -> dict[str, str]:
    """A logged-in athlete, so operations behind authentication are exercised too."""
    return register(client, "schemathesis").headers


def conforms(group: LazySchema) -> Any:
    """A test running every operation of ``group`` with the same examples and checks."""

    @group.parametrize()
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def test_api_conforms(case: Any, auth_headers: dict[str, str]) -> None:
        case.call_and_validate(headers=auth_headers)

    return test_api_conforms


for _group, _pattern in GROUPS.items():
    globals()[f"test_api_conforms_{_group}"] = conforms(schema.include(path_regex=_pattern))
test_api_conforms_other = conforms(schema.exclude(path_regex="|".join(f"(?:{p})" for p in GROUPS.values())))
