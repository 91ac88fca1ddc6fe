"""Headless Chromium for the tests that look at a page as a person would (charts, /docs and
/redoc, the OAuth consent page).

Chromium comes from Debian's packages (`apt-get install chromium`); .ci/run installs it and
sets RUNSTRONG_REQUIRE_CHROMIUM=1, so in CI a missing browser fails instead of skipping."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("RUNSTRONG_REQUIRE_CHROMIUM", "") not in ("", "0", "false")

# No sandbox (tests may run as root), no GPU, and none of Chromium's own traffic.
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(profile: Path, check: str) -> list[str]:
    """The start of a headless Chromium command line with its own profile folder; ``check``
    names what is skipped when no browser is installed (a failure when one is required)."""
    if BROWSER is None:
        if REQUIRED:
            pytest.fail("Chromium is required (RUNSTRONG_REQUIRE_CHROMIUM) but not installed", pytrace=False)
        pytest.skip(f"Chromium is not installed (apt-get install chromium): {check} is skipped")
    return [BROWSER, *HEADLESS, f"--user-data-dir={profile}"]
