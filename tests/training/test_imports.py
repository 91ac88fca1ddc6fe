"""Parsing of uploaded runs (FIT and GPX): valid files, broken files, hostile files and fuzzing.

FIT files are written with the Garmin FIT SDK's own Encoder, the same package that decodes them.
"""

from __future__ import annotations

import itertools
import math
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from garmin_fit_sdk import CrcCalculator, Decoder, Encoder, Profile, Stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.training.imports import (
    MAX_FIT_MESSAGES,
    MAX_UPLOAD_BYTES,
    ActivityImportError,
    ActivityTooLarge,
    ParsedRun,
    parse_activity,
)

START = datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
MESG_NUM: dict[str, int] = Profile["mesg_num"]


# --------------------------------------------------------------------------- builders


def build_fit(
    *,
    file_type: str = "activity",
    sessions: Sequence[dict[str, Any]] = (),
    records: Sequence[dict[str, Any]] = (),
) -> bytes:
    encoder = Encoder()
    encoder.write_mesg(
        {
            "mesg_num": MESG_NUM["FILE_ID"],
            "type": file_type,
            "manufacturer": "development",
            "product": 1,
            "serial_number": 1234,
            "time_created": START,
        }
    )
    for record in records:
        encoder.write_mesg({"mesg_num": MESG_NUM["RECORD"], **record})
    for session in sessions:
        encoder.write_mesg({"mesg_num": MESG_NUM["SESSION"], **session})
    return encoder.close()


def run_session(**overrides: Any) -> dict[str, Any]:
    session: dict[str, Any] = {
        "timestamp": START + timedelta(seconds=3725),
        "start_time": START,
        "total_distance": 10_012.5,  # metres
        "total_elapsed_time": 3725.4,  # seconds
        "total_timer_time": 3600.0,
        "sport": "running",
        "sub_sport": "generic",
    }
    return session | overrides


def records(count: int = 11, step_s: int = 30, step_m: float = 95.0) -> list[dict[str, Any]]:
    return [
        {"timestamp": START + timedelta(seconds=i * step_s), "distance": i * step_m, "heart_rate": 140}
        for i in range(count)
    ]


VALID_FIT = build_fit(sessions=[run_session()], records=records())


def fix_fit_crcs(data: bytes | bytearray) -> bytes:
    """Recompute the header and file CRCs, so that a mutated FIT file gets past the CRC check."""
    out = bytearray(data)
    if len(out) >= 14 and out[0] == 14:
        out[12:14] = CrcCalculator.calculate_crc(out, 0, 12).to_bytes(2, "little")
    if len(out) >= 2:
        out[-2:] = CrcCalculator.calculate_crc(out, 0, len(out) - 2).to_bytes(2, "little")
    return bytes(out)


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


# 101 points in a straight line heading north-east from Berlin, about 103 m and 30 s apart.
GPX_STEPS = 100
GPX_POINTS = [(52.52 + i * 0.0007, 13.405 + i * 0.0010) for i in range(GPX_STEPS + 1)]
EXPECTED_GPX_M = sum(haversine_m(a, b) for a, b in itertools.pairwise(GPX_POINTS))


def build_gpx(points: Sequence[tuple[float, float]] = GPX_POINTS, *, times: bool = True, prolog: str = "") -> bytes:
    trkpts = "\n".join(
        f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>{34 + i % 5}</ele>'
        + (f"<time>{(START + timedelta(seconds=30 * i)).strftime('%Y-%m-%dT%H:%M:%SZ')}</time>" if times else "")
        + "</trkpt>"
        for i, (lat, lon) in enumerate(points)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"{prolog}"
        '<gpx version="1.1" creator="runstrong tests" xmlns="http://www.topografix.com/GPX/1/1"'
        ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">\n'
        "<metadata><name>Metadata name</name></metadata>\n"
        f"<trk><name>Tempo by the river</name><trkseg>\n{trkpts}\n</trkseg></trk>\n"
        "</gpx>\n"
    ).encode()


VALID_GPX = build_gpx()


def parse_or_reject(data: bytes) -> None:
    """The fuzzing oracle: a well-formed ParsedRun or an ActivityImportError, nothing else."""
    try:
        run = parse_activity(data)
    except ActivityImportError as exc:
        message = str(exc)
        assert message, "ActivityImportError without a message"
        return
    assert isinstance(run, ParsedRun)
    assert run.started_at.tzinfo is UTC
    assert math.isfinite(run.distance_km)
    assert run.distance_km > 0
    assert isinstance(run.duration_s, int)
    assert run.duration_s > 0
    assert run.source in {"fit", "gpx"}


# --------------------------------------------------------------------------- FIT


def test_sdk_decodes_the_test_fit_file() -> None:
    decoder = Decoder(Stream.from_byte_array(bytearray(VALID_FIT)))
    assert decoder.is_fit()
    assert decoder.check_integrity()
    messages, errors = Decoder(Stream.from_byte_array(bytearray(VALID_FIT))).read()
    assert errors == []
    assert len(messages["session_mesgs"]) == 1
    assert len(messages["record_mesgs"]) == 11


def test_fit_session_gives_start_distance_and_elapsed_time() -> None:
    run = parse_activity(VALID_FIT, filename="run.fit", content_type="application/octet-stream")
    assert run == ParsedRun(started_at=START, distance_km=10.0125, duration_s=3725, source="fit", sport="running")
    assert run.started_at.tzinfo is UTC


def test_fit_falls_back_to_timer_time() -> None:
    run = parse_activity(build_fit(sessions=[run_session(total_elapsed_time=None)]))
    assert run.duration_s == 3600


def test_fit_with_only_record_messages() -> None:
    run = parse_activity(build_fit(records=records(count=21, step_s=30, step_m=95.0)))
    assert run.started_at == START
    assert run.duration_s == 600
    assert run.distance_km == pytest.approx(1.9)
    assert run.source == "fit"
    assert run.sport is None


def test_format_is_detected_by_content_not_name() -> None:
    assert parse_activity(VALID_FIT, filename="run.gpx", content_type="application/gpx+xml").source == "fit"
    assert parse_activity(VALID_GPX, filename="run.fit", content_type="application/vnd.ant.fit").source == "gpx"


def test_fit_of_another_sport_is_not_a_run() -> None:
    with pytest.raises(ActivityImportError, match=r"not a run.*cycling"):
        parse_activity(build_fit(sessions=[run_session(sport="cycling", sub_sport="road")]))


def test_fit_multisport_keeps_only_the_running_sessions() -> None:
    ride = run_session(start_time=START - timedelta(hours=2), sport="cycling", total_distance=40_000.0)
    run = parse_activity(build_fit(sessions=[ride, run_session()]))
    assert run.started_at == START
    assert run.distance_km == pytest.approx(10.0125)


def test_fit_that_is_not_an_activity_is_rejected() -> None:
    with pytest.raises(ActivityImportError, match=r"not an activity \(its file type is 'workout'\)"):
        parse_activity(build_fit(file_type="workout"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (build_fit(), "no session or record data"),
        (build_fit(sessions=[run_session(total_distance=0.0)]), "no distance"),
        (build_fit(sessions=[run_session(total_elapsed_time=None, total_timer_time=None)]), "no duration"),
        (build_fit(sessions=[run_session(start_time=None, timestamp=None)]), "no valid start time"),
        (build_fit(records=records(count=1)), "too few timestamped records"),
        (build_fit(records=[{"timestamp": START}, {"timestamp": START + timedelta(minutes=5)}]), "no distance"),
    ],
    ids=["no-data", "no-distance", "no-duration", "no-start", "one-record", "records-without-distance"],
)
def test_fit_without_usable_data(data: bytes, message: str) -> None:
    with pytest.raises(ActivityImportError, match=message):
        parse_activity(data)


def test_truncated_fit_is_rejected() -> None:
    for cut in (len(VALID_FIT) - 1, len(VALID_FIT) - 20, 40, 16, 14, 12):
        with pytest.raises(ActivityImportError, match="corrupt"):
            parse_activity(VALID_FIT[:cut])


def test_corrupted_fit_is_rejected() -> None:
    corrupted = bytearray(VALID_FIT)
    corrupted[30] ^= 0xFF
    corrupted[60] ^= 0x55
    with pytest.raises(ActivityImportError, match=r"corrupt or truncated FIT file: the integrity \(CRC\)"):
        parse_activity(bytes(corrupted))


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (b"junk", r"^corrupt FIT file: unexpected data at its end$"),
        (VALID_FIT[:20], r"^corrupt or truncated FIT file: it ends before its data does$"),
    ],
    ids=["junk", "half-a-header"],
)
def test_what_follows_a_fit_file_is_read_as_a_chained_file(tail: bytes, message: str) -> None:
    with pytest.raises(ActivityImportError, match=message):
        parse_activity(VALID_FIT + tail)
    assert parse_activity(VALID_FIT + VALID_FIT).distance_km == pytest.approx(2 * 10.0125)  # two whole files


def test_fit_decode_errors_are_reported_without_sdk_internals() -> None:
    # A data message naming a local type that was never defined, with valid CRCs.
    data = bytearray(VALID_FIT)
    body = bytes(data[14:-2]) + b"\x0f" + b"\x00" * 4
    data = bytearray(data[:14] + body + b"\x00\x00")
    data[4:8] = len(body).to_bytes(4, "little")
    with pytest.raises(ActivityImportError, match=r"^corrupt FIT file: its messages could not be decoded$"):
        parse_activity(fix_fit_crcs(data))


def raw_fit(messages: bytes, *, header_size: int = 14, header_crc: bool = True) -> bytes:
    """A FIT file around raw ``messages``, with its CRCs (a 14-byte header's CRC left 0 unless asked)."""
    header = bytearray([header_size, 0x10]) + (2100).to_bytes(2, "little") + len(messages).to_bytes(4, "little")
    header += b".FIT"
    if header_size == 14:
        header += CrcCalculator.calculate_crc(header, 0, 12).to_bytes(2, "little") if header_crc else b"\x00\x00"
    body = bytes(header) + messages
    return body + CrcCalculator.calculate_crc(body, 0, len(body)).to_bytes(2, "little")


FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
T0 = int((START - FIT_EPOCH).total_seconds())
# Local type 0: record (20) with timestamp (253) and distance (5, in cm); local type 1: distance only.
RECORD_DEFINITIONS = (
    bytes([0x40, 0, 0])
    + (20).to_bytes(2, "little")
    + bytes([2, 253, 4, 0x86, 5, 4, 0x86])
    + bytes([0x41, 0, 0])
    + (20).to_bytes(2, "little")
    + bytes([1, 5, 4, 0x86])
)


def compressed_records(count: int, step_s: int = 3, step_cm: int = 1000) -> bytes:
    """A full record at START, then ``count`` records stamped by a 5-bit offset (compressed headers)."""
    out = bytearray(RECORD_DEFINITIONS + b"\x00" + T0.to_bytes(4, "little") + (0).to_bytes(4, "little"))
    for i in range(1, count + 1):
        out += bytes([0x80 | (1 << 5) | ((T0 + i * step_s) & 0x1F)]) + (i * step_cm).to_bytes(4, "little")
    return bytes(out)


@pytest.mark.parametrize(("header_size", "header_crc"), [(14, False), (12, False), (14, True)])
def test_fit_headers_without_a_crc_are_valid(header_size: int, header_crc: bool) -> None:
    # A header CRC of 0 means "not computed" in the FIT protocol; 12-byte headers have none.
    run = parse_activity(raw_fit(compressed_records(200), header_size=header_size, header_crc=header_crc))
    assert (run.started_at, run.duration_s, run.distance_km) == (START, 600, 2.0)


def test_fit_records_with_compressed_timestamps_are_read() -> None:
    # Older Garmin devices stamp records with a 5-bit offset from the last full timestamp.
    run = parse_activity(raw_fit(compressed_records(1000, step_s=7, step_cm=2000)))
    assert (run.started_at, run.duration_s, run.distance_km) == (START, 7000, 20.0)


def test_a_bad_header_crc_is_still_refused() -> None:
    data = bytearray(raw_fit(compressed_records(10)))
    data[12] ^= 0x01
    with pytest.raises(ActivityImportError, match=r"the header's integrity \(CRC\) check failed"):
        parse_activity(bytes(data))


def test_a_fit_file_with_too_many_messages_is_refused_before_it_is_decoded() -> None:
    data = raw_fit(compressed_records(MAX_FIT_MESSAGES + 10))
    started = time.monotonic()
    with pytest.raises(ActivityTooLarge, match=f"more than {MAX_FIT_MESSAGES} messages"):
        parse_activity(data)
    assert time.monotonic() - started < 10  # walked, not decoded: decoding would take a minute or more


def test_decoding_a_fit_file_stops_at_its_time_budget() -> None:
    data = raw_fit(compressed_records(MAX_FIT_MESSAGES // 2))
    started = time.monotonic()
    with pytest.raises(ActivityImportError, match="takes too long to read"):
        parse_activity(data, budget_s=0.5)
    assert time.monotonic() - started < 5  # it would take 10 s or more to decode whole


def test_fit_with_bad_header_size_is_rejected() -> None:
    corrupted = bytearray(VALID_FIT)
    corrupted[0] = 13
    with pytest.raises(ActivityImportError, match="corrupt FIT file: the file header is invalid"):
        parse_activity(bytes(corrupted))


def test_every_single_byte_flip_of_a_fit_file_is_handled() -> None:
    for index in range(len(VALID_FIT)):
        for mask in (0x01, 0x80, 0xFF):
            flipped = bytearray(VALID_FIT)
            flipped[index] ^= mask
            parse_or_reject(bytes(flipped))
            parse_or_reject(fix_fit_crcs(flipped))


# --------------------------------------------------------------------------- GPX


def test_gpx_with_times() -> None:
    run = parse_activity(VALID_GPX, filename="run.gpx")
    assert run.source == "gpx"
    assert run.started_at == START
    assert run.started_at.tzinfo is UTC
    assert run.duration_s == GPX_STEPS * 30
    assert run.name == "Tempo by the river"
    assert run.sport is None
    assert 9.5 < EXPECTED_GPX_M / 1000 < 10.5
    assert run.distance_km * 1000 == pytest.approx(EXPECTED_GPX_M, rel=0.01)


def test_gpx_name_falls_back_to_metadata_and_times_without_zone_are_utc() -> None:
    data = VALID_GPX.replace(b"<name>Tempo by the river</name>", b"").replace(b"Z</time>", b"</time>")
    run = parse_activity(b"\xef\xbb\xbf" + data)  # with a UTF-8 byte order mark
    assert run.name == "Metadata name"
    assert run.started_at == START


def test_gpx_times_with_offsets_are_converted_to_utc() -> None:
    data = VALID_GPX.replace(b"2024-05-01T06:30:00Z", b"2024-05-01T07:30:00+01:00")
    assert parse_activity(data).started_at == START


def test_gpx_spanning_several_tracks_and_segments() -> None:
    data = VALID_GPX.replace(b"</trkpt>\n<trkpt", b"</trkpt></trkseg></trk><trk><trkseg><trkpt", 1)
    data = data.replace(b"</trkpt>\n<trkpt", b"</trkpt></trkseg><trkseg><trkpt", 1)
    run = parse_activity(data)
    assert run.duration_s == GPX_STEPS * 30
    assert run.distance_km * 1000 < EXPECTED_GPX_M  # the two gaps between segments are not counted
    assert run.distance_km * 1000 == pytest.approx(EXPECTED_GPX_M, rel=0.03)


def test_gpx_without_times() -> None:
    with pytest.raises(ActivityImportError, match="no timestamps"):
        parse_activity(build_gpx(times=False))


def test_gpx_with_a_single_point() -> None:
    with pytest.raises(ActivityImportError, match="fewer than 2 track points"):
        parse_activity(build_gpx(GPX_POINTS[:1]))


def test_gpx_without_movement_has_no_distance() -> None:
    with pytest.raises(ActivityImportError, match="no distance"):
        parse_activity(build_gpx([GPX_POINTS[0]] * 5))


@pytest.mark.parametrize(
    "data",
    [
        VALID_GPX[: len(VALID_GPX) // 2],
        b"<gpx><trk><trkseg></trk></gpx>",
        b'<gpx version="1.1"><trk><trkseg><trkpt lat="north" lon="1"/></trkseg></trk></gpx>',
        b"<gpx \xff\xfe not utf-8>",
    ],
    ids=["truncated", "mismatched-tags", "bad-latitude", "not-utf8"],
)
def test_malformed_gpx(data: bytes) -> None:
    with pytest.raises(ActivityImportError, match="malformed GPX file"):
        parse_activity(data)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [("nan", "0"), ("inf", "0"), ("91", "0"), ("0", "-180.5")],
)
def test_gpx_with_impossible_coordinates(lat: str, lon: str) -> None:
    data = VALID_GPX.replace(b'lat="52.5200000" lon="13.4050000"', f'lat="{lat}" lon="{lon}"'.encode())
    assert data != VALID_GPX
    with pytest.raises(ActivityImportError, match="invalid coordinates"):
        parse_activity(data)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<gpx version="1.1"><metadata><name>&lol4;</name></metadata></gpx>"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        build_gpx(prolog='<!DOCTYPE gpx SYSTEM "file:///etc/passwd">\n'),
        build_gpx(prolog="<!doctype gpx>\n"),
        VALID_GPX.replace(b"<metadata>", b'<metadata><!ENTITY x "y">'),
    ],
    ids=["billion-laughs", "external-doctype", "lowercase-doctype", "stray-entity"],
)
def test_doctype_and_entity_declarations_are_refused(data: bytes) -> None:
    with pytest.raises(ActivityImportError, match="DOCTYPE or ENTITY"):
        parse_activity(data)


def test_quadratic_namespace_scan_in_gpxpy_is_refused() -> None:
    # Unguarded, gpxpy's namespace regex needs about 2 s for this and an hour for 10 MB.
    data = b'<gpx version="1.1"><metadata><desc>' + b" xmlns" * 200_000 + b"</desc></metadata></gpx>"
    with pytest.raises(ActivityImportError, match="too many namespace declarations"):
        parse_activity(data)


def test_gpx_namespaces_do_not_leak_into_the_global_registry() -> None:
    data = VALID_GPX.replace(b"<gpx ", b'<gpx xmlns:upload="urn:runstrong:test:upload" ')
    parse_activity(data)
    assert "urn:runstrong:test:upload" not in vars(ElementTree)["_namespace_map"]


def test_every_truncation_of_a_gpx_file_is_handled() -> None:
    small = build_gpx(GPX_POINTS[:3])
    for cut in range(len(small)):
        parse_or_reject(small[:cut])


# --------------------------------------------------------------------------- neither


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89",
        bytes(range(256)) * 4,
        b"%PDF-1.7\n",
        b'<?xml version="1.0"?><TrainingCenterDatabase></TrainingCenterDatabase>',
        b"<html><body>gpx</body></html>",
        b"lat,lon,time\n52.5,13.4,2024-05-01T06:30:00Z\n",
    ],
    ids=["png", "binary-blob", "pdf", "tcx", "html", "csv"],
)
def test_unsupported_files(data: bytes) -> None:
    with pytest.raises(ActivityImportError, match=r"^unsupported file: expected a Garmin FIT or a GPX file$"):
        parse_activity(data, filename="run.fit", content_type="application/vnd.ant.fit")


def test_empty_file() -> None:
    with pytest.raises(ActivityImportError, match="empty"):
        parse_activity(b"")


def test_file_too_large() -> None:
    with pytest.raises(ActivityImportError, match="too large"):
        parse_activity(VALID_FIT + b"\x00" * MAX_UPLOAD_BYTES)


def test_error_is_a_value_error() -> None:
    assert issubclass(ActivityImportError, ValueError)


# --------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutations(draw: st.DrawFn, base: bytes) -> bytes:
    """Flip, overwrite, insert and delete bytes of ``base``."""
    data = bytearray(base)
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if not data:
            break
        index = draw(st.integers(min_value=0, max_value=len(data) - 1))
        if kind == "flip":
            data[index] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "set":
            data[index] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord("<"), ord('"'), ord("=")]))
        elif kind == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[index : index + draw(st.integers(min_value=1, max_value=16))]
        else:
            del data[index:]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    parse_or_reject(data)


@FUZZ
@given(st.binary(min_size=8, max_size=8), st.binary(max_size=512))
def test_fuzz_random_bytes_with_a_fit_signature(head: bytes, tail: bytes) -> None:
    parse_or_reject(head + b".FIT" + tail)
    parse_or_reject(fix_fit_crcs(bytes([14]) + head[1:] + b".FIT" + tail))


@FUZZ
@given(mutations(VALID_FIT))
def test_fuzz_mutated_fit(data: bytes) -> None:
    parse_or_reject(data)


@FUZZ
@given(mutations(VALID_FIT))
def test_fuzz_mutated_fit_with_valid_crcs(data: bytes) -> None:
    """Recomputing the CRCs lets the mutations reach the SDK's message decoder."""
    parse_or_reject(fix_fit_crcs(data))


@FUZZ
@given(mutations(build_gpx(GPX_POINTS[:5])))
def test_fuzz_mutated_gpx(data: bytes) -> None:
    parse_or_reject(data)


@FUZZ
@given(
    st.integers(min_value=0, max_value=len(build_gpx(GPX_POINTS[:5]))),
    st.text(alphabet='<>/="&;!? :xmlnsgpxtrkpt0123456789.-TZe', max_size=40),
)
def test_fuzz_gpx_with_inserted_markup(position: int, text: str) -> None:
    base = build_gpx(GPX_POINTS[:5])
    parse_or_reject(base[:position] + text.encode() + base[position:])
