"""/docs and /redoc as a developer sees them: headless Chromium with every request off this
machine failing, against a real server. The pages must render the operations from the
assets the service serves itself (no CDN).

Chromium comes from Debian's packages; CI installs it and sets RUNSTRONG_REQUIRE_CHROMIUM=1,
so there a missing browser fails instead of skipping."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import web
from tests.browser import chromium

# The pages, the document and their assets touch no database: one server is enough (each
# page costs a headless Chromium run, 5-8 s of a test worker).
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

# Nothing leaves the machine: every host name resolves to nothing and everything but
# loopback goes to a proxy on a closed port.
OFFLINE = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]


def rendered_dom(url: str, tmp: Path) -> str:
    """The page's DOM once its scripts have run (up to 20 s of virtual time)."""
    done = subprocess.run(
        [
            *chromium(tmp / "profile", "the docs check"),
            *OFFLINE,
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return done.stdout.decode()


def test_swagger_ui_renders_every_tag_with_the_network_off(shared_server: Any, tmp_path: Path) -> None:
    page = web.get(f"{shared_server.url}/docs")
    assert page.status_code == 200 and "https://" not in page.text  # nothing to fetch elsewhere
    asset = web.get(f"{shared_server.url}/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=86400"
    dom = rendered_dom(f"{shared_server.url}/docs", tmp_path)
    # Swagger UI drew the document: its operations, by summary, and the tags they sit under.
    assert 'class="swagger-ui' in dom
    assert dom.count("opblock-summary") >= 50, "Swagger UI did not render the operations"
    for text in ("List and filter exercises", "Record a workout", "Create a plan from the stored profile", "workouts"):
        assert text in dom, text


def test_redoc_renders_with_the_network_off(shared_server: Any, tmp_path: Path) -> None:
    dom = rendered_dom(f"{shared_server.url}/redoc", tmp_path)
    assert "List and filter exercises" in dom and "Record a workout" in dom, "ReDoc did not render the document"
