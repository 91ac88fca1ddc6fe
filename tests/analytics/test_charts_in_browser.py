"""The charts as a person sees them: rendered by headless Chromium, the picture is not blank.

Chromium comes from Debian's packages (`apt-get install chromium`); .ci/run installs it and
sets RUNSTRONG_REQUIRE_CHROMIUM=1, so in CI a missing browser fails instead of skipping."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.analytics.conftest import BASE, WEEKS
from tests.browser import chromium
from tests.conftest import Athlete


def screenshot(svg: bytes, tmp: Path) -> Image.Image:
    command = chromium(tmp / "profile", "the in-browser chart check")
    page = tmp / "chart.html"
    (tmp / "chart.svg").write_bytes(svg)
    # A phone-sized page showing the chart as a web view would.
    page.write_text(
        '<html><body style="margin:0;background:#fff"><img src="chart.svg" style="width:100%"></body></html>'
    )
    png = tmp / "shot.png"
    subprocess.run(
        [
            *command,
            "--window-size=412,900",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    return Image.open(png).convert("RGB")


def ink(image: Image.Image) -> float:
    """Share of pixels that are not (nearly) white."""
    pixels = np.asarray(image)
    return float((pixels.min(axis=2) < 235).mean())


def colours(image: Image.Image) -> int:
    pixels = np.asarray(image).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


@pytest.mark.parametrize("chart", ["load", "progress"])
def test_charts_render_with_content(client: TestClient, athlete: Athlete, chart: str, tmp_path: Path) -> None:
    path = (
        f"{BASE}/load.svg?{WEEKS}"
        if chart == "load"
        else f"{BASE}/progress.svg?exercise=squat&from=2026-10-01&to=2026-10-31"
    )
    image = screenshot(client.get(path, headers=athlete.headers).content, tmp_path)
    assert image.size[0] >= 400
    assert 0.02 < ink(image) < 0.6, "the chart rendered blank (or as a solid block)"
    assert colours(image) > 50, "too few colours for a drawn chart"
