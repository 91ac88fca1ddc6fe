"""Property-based contract tests over every operation: no 5xx, and every response
conforms to the published schema (status, headers, content type, body)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.conftest import register

schema = schemathesis.pytest.from_fixture("api_schema")


# The default checks, with one documented expectation: a schema-valid body can still name
# something that does not exist (an unknown exercise, equipment the catalogue lacks, a
# protocol without its machines); the API answers 422 naming the field, as it promises.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]}
        }
    }
)


@pytest.fixture
def api_schema(app: FastAPI) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


@pytest.fixture
def auth_headers(client: TestClient) -> dict[str, str]:
    """A logged-in athlete, so operations behind authentication are exercised too."""
    return register(client, "schemathesis").headers


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: Any, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=auth_headers)
