"""An athlete going through the consent page as a browser would (without one): load the
page, read its form, post it back with the cookie it set."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import PASSWORD

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
REDIRECT = "https://coach.example/callback"


def register_app(http: httpx.Client, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "CoachApp", "redirect_uris": [REDIRECT], **fields}
    made = http.post("/v1/me/apps", json=body, headers=headers)
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def consent(
    http: httpx.Client, authorize_url: str, email: str, decision: str = "allow", password: str = PASSWORD
) -> httpx.Response:
    """Load the consent page and answer it; the response (302 to the app, or the page again)."""
    page = http.get(authorize_url, follow_redirects=False)
    assert page.status_code == 200, page.text
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    form.update(decision=decision, email=email, password=password)
    return http.post("/oauth/authorize", data=form, follow_redirects=False)


def query(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
