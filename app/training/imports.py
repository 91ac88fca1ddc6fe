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
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BufferedReader, BytesIO
from typing import Literal

import gpxpy
import gpxpy.gpx
from garmin_fit_sdk import FIT_EPOCH_S, CrcCalculator, Decoder, Stream

__all__ = [
    "DECODE_BUDGET_S",
    "MAX_FIT_MESSAGES",
    "MAX_UPLOAD_BYTES",
    "RUNNING_SPORTS",
    "ActivityImportError",
    "ActivityTooLarge",
    "ParsedRun",
    "parse_activity",
]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# A day of recording at one record a second is 86,400 messages; a real file of a run has far
# fewer. Decoding costs about 0.1-0.3 ms a message, so this bounds the work to seconds.
MAX_FIT_MESSAGES = 200_000
DECODE_BUDGET_S = 20.0  # the most time one upload may take to read, when the caller sets none

# FIT `sport` values accepted as a run. "generic" is what devices write when no sport was chosen;
# a file without a sport is accepted too. Anything else (cycling, swimming, walking...) is refused.
RUNNING_SPORTS: frozenset[str] = frozenset({"running", "generic"})

UNSUPPORTED_MESSAGE = "unsupported file: expected a Garmin FIT or a GPX file"


class ActivityImportError(ValueError):
    """The upload cannot be imported as a run; the message says why, in words fit for the user."""


class ActivityTooLarge(ActivityImportError):
    """The upload is more than an import may read (bytes or messages)."""


@dataclass(frozen=True, slots=True)
class ParsedRun:
    started_at: datetime  # timezone-aware UTC
    distance_km: float  # > 0
    duration_s: int  # > 0 (elapsed or timer time)
    source: Literal["fit", "gpx"]
    name: str | None = None  # GPX track/metadata name, if any
    sport: str | None = None  # FIT sport if present (e.g. "running")


def parse_activity(
    data: bytes,
    filename: str | None = None,
    content_type: str | None = None,
    *,
    budget_s: float = DECODE_BUDGET_S,
) -> ParsedRun:
    """Parse a FIT or GPX file into a :class:`ParsedRun`.

    ``filename`` and ``content_type`` are accepted for the caller's convenience but are not
    trusted: the format is detected from the bytes themselves. A FIT file is read for at most
    ``budget_s`` seconds.

    Raises:
        ActivityTooLarge: more bytes or FIT messages than an import reads.
        ActivityImportError: unsupported format, corrupt or truncated file, no usable
            distance/duration/start time, not a run, or not read within ``budget_s``.
    """
    deadline = time.monotonic() + budget_s
    if not data:
        raise ActivityImportError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ActivityTooLarge(
            f"the file is too large ({len(data)} bytes); the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"
        )
    if _looks_like_fit(data):
        return _parse_fit(bytes(data), deadline)
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
_FIT_BAD_HEADER = "corrupt FIT file: the file header is invalid"
_FIT_BAD_CRC = "corrupt or truncated FIT file: the integrity (CRC) check failed"
_FIT_SHORT = "corrupt or truncated FIT file: it ends before its data does"
_FIT_HEADER_SIZES = (12, 14)  # 12: older devices, no header CRC; 14: with one (0 = not computed)
_CRC_CHUNK = 64 * 1024  # bytes checksummed between two looks at the clock
_CLOCK_EVERY = 256  # messages (definitions included) decoded between two looks at the clock


def _parse_fit(data: bytes, deadline: float) -> ParsedRun:
    """Read the run from the FIT session message(s), or from the record messages if there are none.

    Distance is the session's ``total_distance``; duration is ``total_elapsed_time`` (falling back
    to ``total_timer_time``). Several running sessions (a multisport file) are added up. Chained
    FIT files (several in one upload) are read whole.

    The work is bounded before the SDK decodes anything: the files' structure is walked (cheap)
    and more than ``MAX_FIT_MESSAGES`` messages is refused; the CRCs are checked; then decoding
    stops as soon as ``deadline`` (``time.monotonic()``) is passed.
    """
    files = _fit_files(data)
    count = 0
    try:
        for start, end in files:
            count = _count_fit_messages(data, start, end, count)
    except ActivityTooLarge:
        raise
    except ActivityImportError:
        for start, end in files:  # a broken structure is most often damage the CRC detects
            _check_fit_crc(data, start, end, deadline)
        raise
    for start, end in files:
        _check_fit_crc(data, start, end, deadline)
    decoder = _BoundedDecoder(data, deadline)
    try:  # the CRCs are checked above (the SDK would refuse a header CRC of 0, meaning "none")
        messages, errors = decoder.read(enable_crc_check=False, mesg_listener=decoder.observe)
    except Exception as exc:  # the SDK decoding untrusted bytes: any failure means a corrupt file
        raise ActivityImportError(_FIT_UNDECODABLE) from exc
    if errors:  # the SDK's own wording is kept as the cause, for logs, not shown to the user
        if isinstance(errors[0], ActivityImportError):
            raise errors[0]
        raise ActivityImportError(_FIT_UNDECODABLE) from errors[0]

    file_ids: Sequence[Mapping[str, object]] = messages.get("file_id_mesgs", [])
    file_type = file_ids[0].get("type") if file_ids else None
    if file_type is not None and file_type != "activity":
        raise ActivityImportError(f"the FIT file is not an activity (its file type is {file_type!r})")

    sessions: Sequence[Mapping[str, object]] = messages.get("session_mesgs", [])
    records: Sequence[Mapping[str, object]] = messages.get("record_mesgs", [])
    if sessions:
        return _run_from_fit_sessions(sessions, records)
    if records:
        return _run_from_fit_records(records)
    raise ActivityImportError("the FIT file contains no session or record data")


def _fit_files(data: bytes) -> list[tuple[int, int]]:
    """(start, end of data) of each FIT file in ``data`` (devices may chain several); the
    2-byte file CRC follows each end. Checks the headers, and their CRC when there is one."""
    files: list[tuple[int, int]] = []
    position = 0
    while position < len(data):
        header_size = data[position]
        header = data[position : position + header_size]
        if header_size not in _FIT_HEADER_SIZES or len(header) < header_size or header[8:12] != b".FIT":
            raise ActivityImportError(_FIT_BAD_HEADER if not files else "corrupt FIT file: unexpected data at its end")
        if header_size == 14:
            crc = int.from_bytes(header[12:14], "little")
            if crc and crc != CrcCalculator.calculate_crc(header, 0, 12):
                raise ActivityImportError("corrupt FIT file: the header's integrity (CRC) check failed")
        end = position + header_size + int.from_bytes(header[4:8], "little")
        if end + 2 > len(data):
            raise ActivityImportError(_FIT_SHORT)
        files.append((position, end))
        position = end + 2
    return files


def _count_fit_messages(data: bytes, start: int, end: int, count: int) -> int:
    """``count`` plus the messages (data and definitions) of the FIT file at ``start``, walked
    without decoding; refuses a file with more than ``MAX_FIT_MESSAGES`` in all."""
    sizes: dict[int, int] = {}  # local message type -> bytes of its messages
    position = start + data[start]
    while position < end:
        header = data[position]
        if header & 0x80 or not header & 0x40:  # a data message (compressed timestamp or normal)
            size = sizes.get((header >> 5) & 0x03 if header & 0x80 else header & 0x0F)
            if size is None:
                raise ActivityImportError(_FIT_UNDECODABLE)  # a message before its definition
            position += 1 + size
        else:  # a definition: 5 fixed bytes, 3 per field, then developer fields if flagged
            fields_end = position + 6 + 3 * (data[position + 5] if position + 5 < end else 0)
            size = sum(data[position + 7 : fields_end : 3])
            if header & 0x20 and fields_end < end:
                developer_end = fields_end + 1 + 3 * data[fields_end]
                size += sum(data[fields_end + 2 : developer_end : 3])
                fields_end = developer_end
            sizes[header & 0x0F] = size
            position = fields_end
        count += 1  # definitions cost decoding too
        if count > MAX_FIT_MESSAGES:
            raise ActivityTooLarge(
                f"the FIT file holds more than {MAX_FIT_MESSAGES} messages; "
                "that is more than a day of recording at one per second"
            )
    if position != end:
        raise ActivityImportError(_FIT_UNDECODABLE)  # the last message runs past the data
    return count


def _check_fit_crc(data: bytes, start: int, end: int, deadline: float) -> None:
    crc = CrcCalculator()
    for chunk in range(start, end, _CRC_CHUNK):
        crc.add_bytes(data, chunk, min(chunk + _CRC_CHUNK, end))
        _within(deadline)
    if crc.get_crc() != int.from_bytes(data[end : end + 2], "little"):
        raise ActivityImportError(_FIT_BAD_CRC)


def _within(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise ActivityImportError("the FIT file takes too long to read; try again later, or export the run as GPX")


class _RewritingStream(Stream):
    """A stream whose next ``read_byte`` can be made to return another value (the CRC, were
    the SDK to compute it, still sees the bytes of the file)."""

    replacement: int | None = None

    def read_byte(self) -> int:
        value: int = super().read_byte()
        if self.replacement is not None:
            value, self.replacement = self.replacement, None
        return value


class _BoundedDecoder(Decoder):
    """The SDK's decoder, stopped at a deadline, and reading compressed-timestamp messages
    (which it refuses): common in files of older Garmin devices. Such a message is decoded as
    the normal message of its local type, then given the timestamp its 5-bit offset names
    relative to the last full timestamp."""

    def __init__(self, data: bytes, deadline: float) -> None:
        self.fit_stream = _RewritingStream(BufferedReader(BytesIO(data)), len(data))
        super().__init__(self.fit_stream)
        self.deadline = deadline
        self.records = 0
        self.last_timestamp: int | None = None  # seconds since the FIT epoch
        self.pending_timestamp: int | None = None

    # Replaces the SDK's private method of this name; the private methods it calls are not in
    # the SDK's type stubs, hence the ignores. The version is pinned in uv.lock, and
    # tests/training/test_real_files.py reads real compressed-timestamp files through it.
    def _Decoder__decode_next_record(self) -> None:  # noqa: N802
        self.records += 1
        if self.records % _CLOCK_EVERY == 0:
            _within(self.deadline)
        header = self.fit_stream.peek_byte()
        if header & 0x80:
            if self.last_timestamp is None:
                raise ActivityImportError(_FIT_UNDECODABLE)  # an offset from no timestamp
            offset = header & 0x1F
            self.pending_timestamp = self.last_timestamp + ((offset - self.last_timestamp) & 0x1F)
            self.fit_stream.replacement = (header >> 5) & 0x03  # a normal header of its local type
            self._Decoder__decode_message()  # type: ignore[attr-defined]
        elif header & 0x40:
            self._Decoder__decode_mesg_def()  # type: ignore[attr-defined]
        else:
            self._Decoder__decode_message()  # type: ignore[attr-defined]

    def observe(self, _mesg_num: int, message: dict[str, object]) -> None:
        if self.pending_timestamp is not None:
            message["timestamp"] = datetime.fromtimestamp(self.pending_timestamp + FIT_EPOCH_S, UTC)
            self.last_timestamp, self.pending_timestamp = self.pending_timestamp, None
        elif isinstance(stamp := message.get("timestamp"), datetime):
            self.last_timestamp = int(stamp.timestamp()) - FIT_EPOCH_S


def _run_from_fit_sessions(
    sessions: Sequence[Mapping[str, object]], records: Sequence[Mapping[str, object]]
) -> ParsedRun:
    sports = [_fit_sport(session) for session in sessions]
    runs = [s for s, sport in zip(sessions, sports, strict=True) if sport is None or sport in RUNNING_SPORTS]
    if not runs:
        raise ActivityImportError(f"not a run: the FIT activity's sport is {sports[0]!r}")
    starts = [_fit_datetime(s.get("start_time")) or _fit_datetime(s.get("timestamp")) for s in runs]
    known_starts = [start for start in starts if start is not None]
    if not known_starts:
        if any(isinstance(s.get("start_time") or s.get("timestamp"), datetime) for s in runs):
            raise ActivityImportError("the FIT file has no date: its times count from when the device was switched on")
        raise ActivityImportError("the FIT file has no valid start time")
    distance_m = sum(_number(s.get("total_distance")) or 0.0 for s in runs)
    if not distance_m and len(runs) == len(sessions):  # sessions without totals: the records' distance
        distance_m = max((d for d in (_number(r.get("distance")) for r in records) if d is not None), default=0.0)
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
