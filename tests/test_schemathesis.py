"""Property-based contract tests over every operation: no 5xx, and every response
conforms to the published schema (status, headers, content type, body)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tests.conftest import register

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(app: FastAPI) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def auth_headers(client: TestClient) -> dict[str, str]:
    """A logged-in athlete, so operations behind authentication are exercised too."""
    return register(client, "schemathesis").headers


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: Any, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=auth_headers)
