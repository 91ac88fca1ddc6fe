"""The JSON log formatter, in a module of its own: uvicorn's worker processes configure
logging (importing this) before they answer their supervisor's health checks, so it must
not import the application."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring, encode_basestring_ascii
from operator import itemgetter
from typing import Any, TextIO

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

# Where the time goes in a line's plan (no record attribute has this name).
_TIME = "\x00time"


def _literal(text: str) -> str:
    """``text`` as it stands in a ``%`` format."""
    return text.replace("%", "%%")


# The last whole second written, and its date and time of day (``2026-12-04T22:35:25``).
_second: tuple[int, str] = (0, "1970-01-01T00:00:00")


def iso_time(created: float) -> str:
    """``datetime.fromtimestamp(created, tz=UTC).isoformat()``, the date and time of day
    made once a second: its microseconds rounded as ``fromtimestamp`` rounds them (half
    to even), and left out when they are zero, as ``isoformat`` leaves them out."""
    global _second
    fraction, whole = math.modf(created)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1.0
    elif micro < 0:
        micro += 1_000_000
        whole -= 1.0
    seconds = int(whole)
    known, day = _second
    if seconds != known:
        day = datetime.fromtimestamp(seconds, tz=UTC).isoformat()[: -len("+00:00")]
        _second = (seconds, day)
    return f"{day}.{micro:06d}+00:00" if micro else day + "+00:00"


class JsonLines(JsonFormatter):
    """python-json-logger's ``JsonFormatter`` (same options, same output), with the common
    record formatted directly: fields, extras and the timestamp in one dict, encoded by one
    encoder built up front. Records with an exception, a stack, a dict message or options
    this path does not cover go through the library's own ``format``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fields = tuple((name, self._get_rename(name)) for name in self._required_fields)
        self._skip = frozenset(self._skip_fields)
        self._plans: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
        key = self.timestamp if isinstance(self.timestamp, str) else "timestamp"
        self._time_key = self._get_rename(key) if self.timestamp else None
        encoder = self.json_encoder or json.JSONEncoder
        self._encode = encoder(
            ensure_ascii=self.json_ensure_ascii, indent=self.json_indent, default=self.json_default
        ).encode
        # The library's encoder writes a datetime as its isoformat(); do that here, cheaper.
        # (Not where a json_default of its own would write it.)
        self._iso_time = (
            encoder is JsonEncoder
            and self.json_default is None
            and type(self).process_log_record is JsonFormatter.process_log_record
        )
        self._direct = (
            self.json_serializer is json.dumps
            and not self.defaults
            and not self.static_fields
            and not self.rename_fields_keep_missing
            and "asctime" not in self._required_fields
        )

    @property
    def direct(self) -> bool:
        """Whether plain records skip the library's generic path (see :meth:`format`)."""
        return self._direct

    def format(self, record: logging.LogRecord) -> str:
        if not self._direct or record.exc_info or record.exc_text or record.stack_info or isinstance(record.msg, dict):
            formatted: str = super().format(record)
            return formatted
        record.message = record.getMessage()
        attrs = record.__dict__
        # Which keys a record writes, and from which attributes, depends only on its
        # attribute names, and records of one kind (the access line) share them: found
        # once per set of names.
        names = tuple(attrs)
        plan = self._plans.get(names)
        if plan is None:
            if len(self._plans) >= 256:
                self._plans.clear()
            plan = self._plans[names] = self._plan(names)
        when: datetime | str | None = None
        if self._time_key is not None:
            when = datetime.fromtimestamp(attrs["created"], tz=UTC)
            if self._iso_time:
                when = when.isoformat()
        data = {key: when if name is _TIME else attrs.get(name) for key, name in plan}
        return self.prefix + self._encode(self.process_log_record(data))

    def template(self, attrs: dict[str, Any], variable: Sequence[str]) -> Callable[[Sequence[Any]], str] | None:
        """For records of one kind: a function that writes, from the values of the
        ``variable`` attributes (in that order; ``created`` among them) of a record with the
        same attribute names as ``attrs`` and the same values elsewhere, the line
        :meth:`format` writes for it. The constant keys and values are encoded once, into a
        ``%`` format; the rest is encoded as the library's encoder writes a string, a
        number, null or a boolean (anything else through the encoder itself). None where
        this formatter's output is not plain JSON from that encoder (another encoder,
        processing or indent), or the time is not among ``variable``."""
        if not (self._direct and self._iso_time and self.json_indent is None and "created" in variable):
            return None
        encode = self._encode
        string = encode_basestring_ascii if self.json_ensure_ascii else encode_basestring
        position = {name: index for index, name in enumerate(variable)}
        pieces: list[str] = []  # the line's text between variable values, encoded
        picks: list[int] = []  # the position in ``variable`` of each value written
        at_time: int | None = None  # where in ``picks`` the time is
        written: list[str] = []  # what comes before the next variable value, encoded
        for key, name in self._plan(tuple(attrs)):
            if name is _TIME or name in position:
                written.append(encode({key: None})[1 : -len("null}")])  # the key and its separator
                text = ", ".join(written)
                pieces.append(", " + text if picks else text)
                if name is _TIME:
                    at_time = len(picks)
                picks.append(position["created" if name is _TIME else name])
                written = []
            else:
                written.append(encode({key: attrs.get(name)})[1:-1])
        tail = ", ".join(written)
        tail = (", " + tail if picks and tail else tail) + "}"
        form = _literal(self.prefix + "{") + "".join(_literal(text) + "%s" for text in pieces) + _literal(tail)
        created = position["created"]
        others = [index for place, index in enumerate(picks) if place != at_time]  # the time is written apart
        pick = itemgetter(*others) if len(others) > 1 else (lambda values: tuple(values[i] for i in others))

        def value(item: Any) -> str:
            kind = type(item)
            if kind is str:
                return string(item)
            if item is None:
                return "null"
            if kind is int or (kind is float and math.isfinite(item)):
                return repr(item)
            return encode(item)

        def fill(values: Sequence[Any]) -> str:
            written = [
                string(item)
                if (kind := type(item)) is str
                else "null"
                if item is None
                else repr(item)
                if kind is int
                else value(item)
                for item in pick(values)
            ]
            if at_time is not None:
                written.insert(at_time, '"' + iso_time(values[created]) + '"')
            return form % tuple(written)

        return fill

    def _plan(self, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """(key, attribute) in the order the line writes them: the format's fields, the
        record's other attributes (not reserved, not starting with "_"), the time; a key
        written twice keeps its first place and its last value, as in a dict."""
        order = {renamed: name for name, renamed in self._fields}
        rename, skip = self.rename_fields, self._skip
        for name in names:
            if name not in skip and not (hasattr(name, "startswith") and name.startswith("_")):  # numeric keys too
                order[rename.get(name, name)] = name
        if self._time_key is not None:
            order[self._time_key] = _TIME
        return tuple(order.items())


# Secrets that may ride in a URL (feed links carry a token in the query string): whatever
# writes a log line, the handler writes them as [redacted].
_SECRET_IN_TEXT = re.compile(r"(?ai)(token=)[^&\s\"']+|rs_(?:feed|pat|rt)_[A-Za-z0-9_-]+")

# A record whose text was redacted where it was made (the access line) carries this
# attribute set to True, so the filter need not format its message again. Attributes
# starting with "_" are never written to a line.
REDACTED = "_redacted"


def may_carry_secret(text: str) -> bool:
    """Whether ``text`` may hold a token (a cheap test before the regular expression)."""
    lowered = text.lower()  # as the expression matches: without regard to case
    return "rs_" in lowered or "token=" in lowered


def redact(text: str) -> str:
    """``text`` with every token in it written as [redacted]."""
    if not may_carry_secret(text):
        return text
    return _SECRET_IN_TEXT.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


class RedactSecrets(logging.Filter):
    """Blank out tokens in a log line's message (query strings, token-shaped words)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get(REDACTED) is True:
            return True
        message = record.getMessage()
        if may_carry_secret(message):
            record.msg = redact(message)
            record.args = None
        return True


# A line waiting in a batch: its text, or the template and the values that write it.
Waiting = str | tuple[Callable[[Any], str], Any]


class BatchedLines(logging.StreamHandler):  # type: ignore[type-arg]
    """``logging.StreamHandler`` that writes the access lines in batches: one write and
    flush per ``capacity`` lines, or ``interval`` seconds after the first line waiting,
    whichever comes first, instead of a write and a flush per request. Any other record
    (start-up, warnings, errors) is written at once, after the lines waiting before it,
    so the order is kept; the lines waiting are written when the handler is flushed or
    closed (``logging.shutdown`` at exit). Lines the stream refuses (a closed pipe) are
    reported once through ``handleError``, whichever thread wrote them."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        batched: str = "runstrong.access",
        capacity: int = 64,
        interval: float = 0.1,
    ) -> None:
        super().__init__(stream)
        self.batched = batched
        self.capacity = capacity
        self.interval = interval
        self._waiting: list[Waiting] = []
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        _BATCHING.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        # Called by Handler.handle with self.lock held.
        try:
            self._add(self.format(record), batched=record.name == self.batched and record.levelno <= logging.INFO)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def add_later(self, template: Callable[[Any], str], values: Any) -> None:
        """A line of the batched logger at INFO, made by its caller (see app.core.access_log)
        as the ``template`` that writes it from ``values``: written, in order with the
        others, when the batch is. A failed write is reported as ``emit`` reports one
        (``handleError``), never raised to the caller."""
        self.acquire()
        try:
            self._add((template, values), batched=True)
        except RecursionError:
            raise
        except Exception:
            self._report(_described(template, values))
        finally:
            self.release()

    def _add(self, line: Waiting, *, batched: bool) -> None:
        """Queue a line (its text, or its template and values to write it when the batch is)."""
        self._waiting.append(line + self.terminator if isinstance(line, str) else line)
        if not batched or len(self._waiting) >= self.capacity:
            self._write()
        elif len(self._waiting) == 1:
            self._start_flusher()
            self._wake.set()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def close(self) -> None:
        self.acquire()
        try:
            self._closed = True
            self._wake.set()
            with contextlib.suppress(OSError, ValueError):  # the stream is gone: nothing to write to
                self._write()
        finally:
            self.release()
        super().close()

    def _write(self) -> None:
        lines: list[Waiting] = []
        waiting: list[Waiting] = []
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            made = [(line, line if type(line) is str else self._written(*line)) for line in waiting]
            lines = [line for line, text in made if text]  # a line that could not be made is reported already
            text = "".join(text for _, text in made)
        try:
            if lines:
                self.stream.write(text)
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()  # a buffered stream refuses here
        except RecursionError:
            raise
        except Exception:
            if not waiting:
                raise  # nothing of ours lost: the caller's to handle, as a stream's error always was
            if lines:  # those whose template failed are reported already
                self._report(self._lost(lines))  # said once, whoever asked for the write

    def _lost(self, lines: list[Waiting]) -> str:
        """How lines the stream refused are reported: the line itself (an access line as its
        template describes it), or for a batch their number and the first."""
        first = lines[0]
        described = first.removesuffix(self.terminator) if isinstance(first, str) else _described(*first)
        return described if len(lines) == 1 else f"{len(lines)} lines could not be written, the first: {described}"

    def _written(self, template: Callable[[Any], str], values: Any) -> str:
        """A waiting line made by its template; nothing (reported) if it cannot be."""
        try:
            return template(values) + self.terminator
        except RecursionError:
            raise
        except Exception:
            self._report(_described(template, values))
            return ""

    def _report(self, message: str) -> None:
        """A line that could not be written, reported as ``emit`` reports one."""
        self.handleError(logging.makeLogRecord({"name": self.batched, "msg": message, "levelno": logging.INFO}))

    def _start_flusher(self) -> None:
        if self._flusher is None and not self._closed:
            self._flusher = threading.Thread(target=self._flush_waiting, name="log-flusher", daemon=True)
            self._flusher.start()

    def _flush_waiting(self) -> None:
        """Writes what waits ``interval`` seconds after a first line arrives."""
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            time.sleep(self.interval)
            if self._closed:  # close() wrote what was waiting
                return
            with contextlib.suppress(OSError, ValueError):  # a stream that cannot flush: lines lost are reported
                self.flush()

    def _after_fork(self) -> None:
        """In a forked child: no flusher thread (threads do not survive a fork), and the
        lines waiting are the parent's to write, not the child's too."""
        self._flusher = None
        self._waiting.clear()


def _described(template: Callable[[Any], str], values: Any) -> str:
    """How a line that could not be written is reported: as its template's ``describe``
    tells it from the values (the access line: by its message, tokens redacted), else as
    a line of the batched logger."""
    describe = getattr(template, "describe", None)
    try:
        return str(describe(values)) if describe is not None else "a line that could not be written"
    except Exception:
        return "a line that could not be written"


_BATCHING: weakref.WeakSet[BatchedLines] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for handler in list(_BATCHING):
        handler._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
