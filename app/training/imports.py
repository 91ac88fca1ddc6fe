"""Parse an uploaded run: a Garmin FIT activity file or a GPX track.

Pure parsing: no I/O, no database, no HTTP. The caller reads the upload (at most
``MAX_UPLOAD_BYTES``) and passes the bytes to :func:`parse_activity`, which either returns a
:class:`ParsedRun` or raises :class:`ActivityImportError` with a message that can be shown to
the user. Whatever the bytes are, no other exception escapes.

The format is detected from the content (FIT header signature, XML with a ``<gpx>`` root),
never from the file name or the declared content type.
"""

from __future__ import annotations

import math
import re
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import gpxpy
import gpxpy.gpx
from garmin_fit_sdk import FIT_EPOCH_S, Decoder, Stream

__all__ = ["MAX_UPLOAD_BYTES", "RUNNING_SPORTS", "ActivityImportError", "ParsedRun", "parse_activity"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024

# FIT `sport` values accepted as a run. "generic" is what devices write when no sport was chosen;
# a file without a sport is accepted too. Anything else (cycling, swimming, walking...) is refused.
RUNNING_SPORTS: frozenset[str] = frozenset({"running", "generic"})

UNSUPPORTED_MESSAGE = "unsupported file: expected a Garmin FIT or a GPX file"


class ActivityImportError(ValueError):
    """The upload cannot be imported as a run; the message says why, in words fit for the user."""


@dataclass(frozen=True, slots=True)
class ParsedRun:
    started_at: datetime  # timezone-aware UTC
    distance_km: float  # > 0
    duration_s: int  # > 0 (elapsed or timer time)
    source: Literal["fit", "gpx"]
    name: str | None = None  # GPX track/metadata name, if any
    sport: str | None = None  # FIT sport if present (e.g. "running")


def parse_activity(data: bytes, filename: str | None = None, content_type: str | None = None) -> ParsedRun:
    """Parse a FIT or GPX file into a :class:`ParsedRun`.

    ``filename`` and ``content_type`` are accepted for the caller's convenience but are not
    trusted: the format is detected from the bytes themselves.

    Raises:
        ActivityImportError: empty or oversized data, unsupported format, corrupt or truncated
            file, no usable distance/duration/start time, or not a run.
    """
    if not data:
        raise ActivityImportError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ActivityImportError(
            f"the file is too large ({len(data)} bytes); the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"
        )
    if _looks_like_fit(data):
        return _parse_fit(bytes(data))
    if _looks_like_xml(data):
        if _XML_DECLARATIONS.search(data):
            raise ActivityImportError("GPX files with a DOCTYPE or ENTITY declaration are not accepted")
        if _has_gpx_root(data):
            return _parse_gpx(bytes(data))
    raise ActivityImportError(UNSUPPORTED_MESSAGE)


# --------------------------------------------------------------------------- detection

_UTF8_BOM = b"\xef\xbb\xbf"
_XML_DECLARATIONS = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# Whitespace, the XML declaration, processing instructions and comments before the root element.
_XML_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_GPX_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?gpx[\s/>]")


def _looks_like_fit(data: bytes) -> bool:
    return len(data) >= 12 and data[8:12] == b".FIT"


def _strip_bom(data: bytes) -> bytes:
    return data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data


def _looks_like_xml(data: bytes) -> bool:
    return _strip_bom(data).lstrip().startswith(b"<")


def _has_gpx_root(data: bytes) -> bool:
    body = _strip_bom(data)
    prolog = _XML_PROLOG.match(body)
    start = prolog.end() if prolog else 0
    return _GPX_ROOT.match(body, start) is not None


# --------------------------------------------------------------------------- FIT

# FIT date_time values below 0x10000000 are relative (seconds since the device powered on).
_FIT_MIN_ABSOLUTE = datetime.fromtimestamp(FIT_EPOCH_S + 0x10000000, UTC)
_FIT_UNDECODABLE = "corrupt FIT file: its messages could not be decoded"


def _parse_fit(data: bytes) -> ParsedRun:
    """Read the run from the FIT session message(s), or from the record messages if there are none.

    Distance is the session's ``total_distance``; duration is ``total_elapsed_time`` (falling back
    to ``total_timer_time``). Several running sessions (a multisport file) are added up.
    """
    try:
        checker = Decoder(Stream.from_byte_array(bytearray(data)))
        if not checker.is_fit():
            raise ActivityImportError("corrupt FIT file: the file header is invalid")
        if not checker.check_integrity():
            raise ActivityImportError("corrupt or truncated FIT file: the integrity (CRC) check failed")
        messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read()
    except ActivityImportError:
        raise
    except Exception as exc:  # the SDK decoding untrusted bytes: any failure means a corrupt file
        raise ActivityImportError(_FIT_UNDECODABLE) from exc
    if errors:  # the SDK's own wording is kept as the cause, for logs, not shown to the user
        raise ActivityImportError(_FIT_UNDECODABLE) from errors[0]

    file_ids: Sequence[Mapping[str, object]] = messages.get("file_id_mesgs", [])
    file_type = file_ids[0].get("type") if file_ids else None
    if file_type is not None and file_type != "activity":
        raise ActivityImportError(f"the FIT file is not an activity (its file type is {file_type!r})")

    sessions: Sequence[Mapping[str, object]] = messages.get("session_mesgs", [])
    if sessions:
        return _run_from_fit_sessions(sessions)
    records: Sequence[Mapping[str, object]] = messages.get("record_mesgs", [])
    if records:
        return _run_from_fit_records(records)
    raise ActivityImportError("the FIT file contains no session or record data")


def _run_from_fit_sessions(sessions: Sequence[Mapping[str, object]]) -> ParsedRun:
    sports = [_fit_sport(session) for session in sessions]
    runs = [s for s, sport in zip(sessions, sports, strict=True) if sport is None or sport in RUNNING_SPORTS]
    if not runs:
        raise ActivityImportError(f"not a run: the FIT activity's sport is {sports[0]!r}")
    starts = [_fit_datetime(s.get("start_time")) or _fit_datetime(s.get("timestamp")) for s in runs]
    known_starts = [start for start in starts if start is not None]
    if not known_starts:
        raise ActivityImportError("the FIT file has no valid start time")
    distance_m = sum(_number(s.get("total_distance")) or 0.0 for s in runs)
    duration = sum(_number(s.get("total_elapsed_time")) or _number(s.get("total_timer_time")) or 0.0 for s in runs)
    sport = next((sport for sport in (_fit_sport(s) for s in runs) if sport is not None), None)
    return _build("fit", min(known_starts), distance_m, duration, sport=sport)


def _run_from_fit_records(records: Sequence[Mapping[str, object]]) -> ParsedRun:
    times = [t for t in (_fit_datetime(r.get("timestamp")) for r in records) if t is not None]
    if len(times) < 2:
        raise ActivityImportError("the FIT file has no session and too few timestamped records")
    distances = [d for d in (_number(r.get("distance")) for r in records) if d is not None]
    if not distances:
        raise ActivityImportError("the FIT file has no distance")
    start, end = min(times), max(times)
    return _build("fit", start, max(distances), (end - start).total_seconds())


def _fit_sport(message: Mapping[str, object]) -> str | None:
    sport = message.get("sport")
    return sport if isinstance(sport, str) else None


def _fit_datetime(value: object) -> datetime | None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    value = value.astimezone(UTC)
    return value if value >= _FIT_MIN_ABSOLUTE else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


# --------------------------------------------------------------------------- GPX

# gpxpy scans the whole text with r'\sxmlns:?[^=]*="[^"]+"', which is quadratic on text holding
# many "xmlns" far from any "=": 200 KB of them take seconds, 10 MB would take an hour. The cost
# is measured (in linear time) before parsing and refused above this many characters scanned.
_MAX_NAMESPACE_SCAN = 50_000_000
_MAX_DETAIL = 200  # characters of gpxpy's error message passed on
_XMLNS = re.compile(r"\sxmlns")

# gpxpy registers every namespace prefix it meets in ElementTree's process-wide registry, which
# would let uploads grow it without bound and change how other code serialises XML. It is saved
# and restored around each parse, under a lock.
_ET_NAMESPACE_MAP: dict[str, str] = vars(ElementTree)["_namespace_map"]
_GPX_PARSE_LOCK = threading.Lock()


def _parse_gpx(data: bytes) -> ParsedRun:
    """Read the run from the GPX tracks.

    Distance is the 2D (horizontal, haversine-like) length of every segment of every track, as
    computed by gpxpy's ``length_2d``; it is not the moving distance, so pauses with GPS drift
    count. The start is the earliest point time and the duration runs to the latest point time.
    Times without a zone are taken as UTC, as the GPX schema prescribes.
    """
    try:
        text = _strip_bom(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ActivityImportError("malformed GPX file: it is not valid UTF-8 text") from exc
    if _namespace_scan_cost(text) > _MAX_NAMESPACE_SCAN:
        raise ActivityImportError("malformed GPX file: too many namespace declarations")
    try:
        with _isolated_namespace_registry():
            gpx = gpxpy.parse(text)
    except gpxpy.gpx.GPXException as exc:  # gpxpy's messages are meant for users (line, column...)
        raise ActivityImportError(f"malformed GPX file: {str(exc)[:_MAX_DETAIL]}") from exc
    except Exception as exc:  # anything else gpxpy or the XML parser may raise on hostile input
        raise ActivityImportError("malformed GPX file: it could not be parsed") from exc

    points = [point for track in gpx.tracks for segment in track.segments for point in segment.points]
    if len(points) < 2:
        raise ActivityImportError("the GPX file has fewer than 2 track points")
    for point in points:
        _check_point(point)
    times = [_gpx_datetime(point.time) for point in points if point.time is not None]
    if len(times) < 2:
        raise ActivityImportError("the GPX file has no timestamps: its track points need times")
    try:
        distance_m = sum(track.length_2d() for track in gpx.tracks)
    except (ArithmeticError, ValueError) as exc:
        raise ActivityImportError("malformed GPX file: its distance cannot be computed") from exc
    start, end = min(times), max(times)
    return _build("gpx", start, distance_m, (end - start).total_seconds(), name=_gpx_name(gpx))


def _namespace_scan_cost(text: str) -> int:
    """Characters that gpxpy's namespace regex will scan, bounded above; linear time."""
    cost = 0
    next_eq = next_quote = -1
    for match in _XMLNS.finditer(text):
        position = match.start()
        if next_eq < position:
            next_eq = text.find("=", position)
            if next_eq < 0:
                next_eq = len(text)
            next_quote = text.find('"', next_eq + 2)
            if next_quote < 0:
                next_quote = len(text)
        cost += next_quote - position
        if cost > _MAX_NAMESPACE_SCAN:
            break
    return cost


@contextmanager
def _isolated_namespace_registry() -> Iterator[None]:
    with _GPX_PARSE_LOCK:
        saved = dict(_ET_NAMESPACE_MAP)
        try:
            yield
        finally:
            _ET_NAMESPACE_MAP.clear()
            _ET_NAMESPACE_MAP.update(saved)


def _check_point(point: gpxpy.gpx.GPXTrackPoint) -> None:
    lat, lon, elevation = point.latitude, point.longitude, point.elevation
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ActivityImportError(f"malformed GPX file: invalid coordinates ({lat}, {lon})")
    if elevation is not None and not math.isfinite(elevation):
        raise ActivityImportError("malformed GPX file: invalid elevation")


def _gpx_datetime(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ActivityImportError(f"malformed GPX file: invalid time {value}") from exc


def _gpx_name(gpx: gpxpy.gpx.GPX) -> str | None:
    candidates = [track.name for track in gpx.tracks] + [gpx.name]
    return next((name.strip() for name in candidates if name and name.strip()), None)


# --------------------------------------------------------------------------- common


def _build(
    source: Literal["fit", "gpx"],
    started_at: datetime,
    distance_m: float,
    duration_s: float,
    *,
    name: str | None = None,
    sport: str | None = None,
) -> ParsedRun:
    if not math.isfinite(distance_m) or distance_m <= 0:
        raise ActivityImportError(f"the {source.upper()} file has no distance")
    if not math.isfinite(duration_s) or round(duration_s) <= 0:
        raise ActivityImportError(f"the {source.upper()} file has no duration")
    return ParsedRun(
        started_at=started_at,
        distance_km=distance_m / 1000,
        duration_s=round(duration_s),
        source=source,
        name=name,
        sport=sport,
    )
