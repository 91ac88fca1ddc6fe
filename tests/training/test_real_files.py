"""Real files from real watches, bike computers and apps (tests/training/files/real, with their
sources and licences): every valid run is imported, with the distance, duration and start an
independent decoder reads (fitdecode for FIT, the XML itself for GPX), and no valid file is
ever called corrupt."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import fitdecode
import pytest
from fastapi.testclient import TestClient

from app.training.imports import MAX_FIT_MESSAGES, RUNNING_SPORTS, ActivityImportError, parse_activity
from tests.conftest import Athlete
from tests.training.test_imports import compressed_records, raw_fit

REAL = Path(__file__).parent / "files" / "real"
RUNS = [
    "2013-02-06-12-11-14.fit",
    "activity-small-fenix2-run.fit",
    "garmin-fenix-5-run.fit",
    "developer-types-sample.fit",
    "sample_mulitple_header.fit",
]
# Valid files that are not runs: refused, with a message that says why, never "corrupt".
NOT_RUNS = {
    "Edge810-Vector-2013-08-16-15-35-10.fit": r"^not a run: the FIT activity's sport is 'cycling'$",
    "2015-10-13-08-43-15.fit": r"^not a run: the FIT activity's sport is 'cycling'$",
    "garmin-fenix-5-walk.fit": r"^not a run: the FIT activity's sport is 'walking'$",
    "Settings.fit": r"^the FIT file is not an activity \(its file type is 'settings'\)$",
    "compressed-speed-distance.fit": r"^the FIT file has no date: its times count from when the device",
}
GPX_RUNS = ["korita-zbevnica.gpx", "cerknicko-jezero.gpx", "around-visnjan-with-car.gpx"]


@dataclass
class Reference:
    file_type: str | None
    distance_m: float
    duration_s: float
    started_at: datetime | None


def fitdecode_reference(path: Path) -> Reference:
    """The run as fitdecode reads it, CRCs checked: the running sessions added up."""
    file_type = None
    distance = duration = 0.0
    starts = []
    with fitdecode.FitReader(str(path), check_crc=fitdecode.CrcCheck.RAISE) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            if frame.name == "file_id" and file_type is None:
                file_type = frame.get_value("type", fallback=None)
            if frame.name == "session" and frame.get_value("sport", fallback=None) in (*RUNNING_SPORTS, None):
                distance += frame.get_value("total_distance", fallback=None) or 0.0
                duration += (
                    frame.get_value("total_elapsed_time", fallback=None)
                    or frame.get_value("total_timer_time", fallback=None)
                    or 0.0
                )
                start = frame.get_value("start_time", fallback=None)
                if isinstance(start, datetime):
                    starts.append(start)
    return Reference(file_type, distance, duration, min(starts) if starts else None)


@pytest.mark.parametrize("name", RUNS)
def test_real_fit_runs_are_imported_as_an_independent_decoder_reads_them(name: str) -> None:
    reference = fitdecode_reference(REAL / name)
    run = parse_activity((REAL / name).read_bytes())
    assert reference.file_type == "activity" and reference.distance_m > 0
    assert run.source == "fit"
    assert run.distance_km * 1000 == pytest.approx(reference.distance_m, abs=0.5)
    assert abs(run.duration_s - reference.duration_s) <= 1
    assert run.started_at == reference.started_at


def test_a_2013_garmin_run_with_an_uncomputed_header_crc_is_imported() -> None:
    data = (REAL / "2013-02-06-12-11-14.fit").read_bytes()
    assert data[0] == 14 and data[12:14] == b"\x00\x00"  # header CRC 0: "not computed"
    run = parse_activity(data)
    assert (round(run.distance_km, 2), run.duration_s) == (4.84, 2625)  # 4.84 km in 43:45
    assert run.started_at == datetime(2013, 2, 6, 12, 11, 14, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(NOT_RUNS))
def test_valid_fit_files_that_are_not_runs_are_refused_for_what_they_are(name: str) -> None:
    fitdecode_reference(REAL / name)  # an independent decoder reads it, CRCs checked: it is valid
    with pytest.raises(ActivityImportError, match=NOT_RUNS[name]) as refused:
        parse_activity((REAL / name).read_bytes())
    assert "corrupt" not in str(refused.value)


def gpx_reference(path: Path) -> tuple[float, float, datetime]:
    """Distance (haversine over every segment), duration and start, read from the XML itself."""
    ns = {"g": "http://www.topografix.com/GPX/1/0", "h": "http://www.topografix.com/GPX/1/1"}
    root = ElementTree.parse(path).getroot()  # noqa: S314 (a test file we ship)
    prefix = "g" if root.tag.endswith("}gpx") and "1/0" in root.tag else "h"
    distance = 0.0
    times = []
    for segment in root.iterfind(f".//{prefix}:trkseg", ns):
        points = segment.findall(f"{prefix}:trkpt", ns)
        coords = [(float(p.attrib["lat"]), float(p.attrib["lon"])) for p in points]
        distance += sum(haversine_m(a, b) for a, b in pairwise(coords))
        for point in points:
            text = point.findtext(f"{prefix}:time", namespaces=ns)
            if text:
                times.append(datetime.fromisoformat(text.replace("Z", "+00:00")))
    return distance, (max(times) - min(times)).total_seconds(), min(times)


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


@pytest.mark.parametrize("name", GPX_RUNS)
def test_real_gpx_tracks_are_imported_as_their_points_say(name: str) -> None:
    distance_m, duration_s, start = gpx_reference(REAL / name)
    run = parse_activity((REAL / name).read_bytes())
    assert run.source == "gpx"
    assert run.distance_km * 1000 == pytest.approx(distance_m, rel=0.005)
    assert abs(run.duration_s - duration_s) <= 1 and run.started_at == start


def test_a_real_run_is_imported_through_the_api(client: TestClient, make_athlete: Callable[..., Athlete]) -> None:
    athlete = make_athlete()
    data = (REAL / "2013-02-06-12-11-14.fit").read_bytes()
    response = client.post(
        "/v1/athletes/me/runs/import",
        files={"file": ("2013-02-06-12-11-14.fit", data, "application/vnd.ant.fit")},
        headers=athlete.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["distance_km"], body["duration_s"]) == (4.835, 2625)
    assert body["started_at"] == "2013-02-06T12:11:14Z"


def test_a_fit_file_with_too_many_messages_is_a_413_through_the_api(
    client: TestClient, make_athlete: Callable[..., Athlete]
) -> None:
    athlete = make_athlete()
    data = raw_fit(compressed_records(MAX_FIT_MESSAGES + 1))
    response = client.post("/v1/athletes/me/runs/import", files={"file": ("long.fit", data)}, headers=athlete.headers)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert f"more than {MAX_FIT_MESSAGES} messages" in response.json()["detail"]
    assert client.get("/v1/athletes/me/runs", headers=athlete.headers).json()["items"] == []
