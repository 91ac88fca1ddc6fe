"""The access line: one per request, written by ``Telemetry`` once the response is sent.

It is an INFO record of the ``runstrong.access`` logger: method, path (tokens redacted),
route template, status, duration, client address and, when the caller authenticated, the
user id; never headers, query strings or bodies. Wherever logging sends it, it goes there.

Where it goes to the service's own handler (``logging_config``: one ``BatchedLines``
with the ``JsonLines`` formatter and the request-id and redaction filters, and nothing
else on the way), the request leaves a tuple of what the line says in that handler's
batch, with the template (:class:`Line`) that writes it: the same text, without a
``LogRecord`` and the logger's and handler's generic steps, and made when the batch is
written, the lines one after another. A served request that built the record's attributes
itself paid about a third of a cached catalogue answer's CPU for its line; the tuple
costs a few percent. Any other set-up (a test's capture handler, text lines, another
handler or filter) gets the record.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from asgi_correlation_id import CorrelationIdFilter, correlation_id
from starlette.types import Scope

from app.core.logs import REDACTED, BatchedLines, JsonLines, RedactSecrets, redact

ACCESS_LOG = logging.getLogger("runstrong.access")
MESSAGE = "%s %s %s %.1f ms"

# Per thread, the attributes ``logging`` gives every record (process, thread, file names):
# the access line copies them instead of having ``Logger.info`` find its caller's frame and
# ask the system for the process id on every request. Forgotten in a forked child.
_PROTOTYPES: dict[int, dict[str, Any]] = {}


def write(scope: Scope, route: str, status: int, duration: float) -> None:
    """The access line of a request answered ``status`` after ``duration`` seconds."""
    client = scope.get("client")
    direct = _direct_handler()
    if direct is not None:
        handler, formatter, request_ids = direct
        line = _line(formatter, request_ids)
        if line is not None:
            request_id = correlation_id.get(request_ids.default_value) if request_ids is not None else None
            state = scope.get("state")
            user_id = state.get("user_id") if state else None
            address = client[0] if client else None
            now = time.time()
            handler.add_later(
                line, (scope["method"], scope["path"], route, status, duration, address, user_id, request_id, now)
            )
            return
    ms = round(duration * 1000, 2)
    path = redact(scope["path"])  # once, here: the filter then leaves the line alone
    ACCESS_LOG.handle(
        access_record(MESSAGE, (scope["method"], path, status, ms), _extra(scope, path, route, status, ms))
    )


def _extra(scope: Scope, path: str, route: str, status: int, ms: float) -> dict[str, Any]:
    client = scope.get("client")
    return {
        "method": scope["method"],
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": ms,
        "client": client[0] if client else None,
        "user_id": scope.get("state", {}).get("user_id"),
        REDACTED: True,
    }


# What varies from one access line to the next, in the order a line's template takes
# the values; every other attribute is the same for every line a thread of this process
# writes.
VARIABLE = (
    *("method", "path", "route", "status", "duration_ms", "client", "user_id", REDACTED),
    *("message", "correlation_id", "msg", "args", "created", "msecs", "relativeCreated"),
)
# A line's template is made from the attributes a thread's records have (its prototype),
# for a formatter with its prefix, with or without the request-id filter's attribute: it
# is kept with that prototype, so the two are made and forgotten together.
TemplateKey = tuple[JsonLines, str, bool]
_TEMPLATES: dict[int, dict[TemplateKey, Line | None]] = {}


class Line:
    """Writes, when the batch is written, the access line of a request from what
    :func:`write` kept of it (method, path, route, status, duration, client, user id,
    request id, time): the text the formatter writes for the record :func:`access_record`
    makes of the request, once the request-id filter has set its id. A request pays for
    a tuple; the rounding, the redaction, the message and the JSON are the batch's."""

    __slots__ = ("created", "fill", "relative")

    def __init__(self, fill: Callable[[Sequence[Any]], str], prototype: dict[str, Any]) -> None:
        self.fill = fill
        self.created = prototype["created"]
        self.relative = prototype["relativeCreated"]

    def __call__(self, raw: tuple[Any, ...]) -> str:
        method, path, route, status, duration, client, user_id, request_id, created = raw
        ms = round(duration * 1000, 2)
        path = redact(path)
        args = (method, path, status, ms)
        msecs = int((created - int(created)) * 1000) + 0.0
        relative = self.relative + (created - self.created) * 1000
        values = (method, path, route, status, ms, client, user_id, True)
        return self.fill((*values, MESSAGE % args, request_id, MESSAGE, args, created, msecs, relative))

    @staticmethod
    def describe(raw: tuple[Any, ...]) -> str:
        """The line's message, for a report that it could not be written."""
        method, path, _route, status, duration, *_ = raw
        return MESSAGE % (method, redact(path), status, round(duration * 1000, 2))


def _forget() -> None:
    """In a forked child: another process id, so neither prototypes nor templates hold."""
    _PROTOTYPES.clear()
    _TEMPLATES.clear()


os.register_at_fork(after_in_child=_forget)


def _line(formatter: JsonLines, request_ids: CorrelationIdFilter | None) -> Line | None:
    """What writes this thread's access lines for ``formatter`` (with the request id when
    ``request_ids`` sets it); None where the formatter has no template, or making one
    failed (the line then takes logging's way, which reports a failure as any handler's)."""
    templates = _TEMPLATES.get(threading.get_ident())
    key = (formatter, formatter.prefix, request_ids is not None)
    if templates is not None and key in templates:
        return templates[key]
    try:
        # This thread's own prototype and templates, held here: another thread may forget
        # every thread's meanwhile (_prototype), and this line is then made from these.
        common, templates = _prototype()
        attrs = _attributes(MESSAGE, ("GET", "/", 200, 0.0), _extra({"method": "GET"}, "/", "", 200, 0.0), common)
        if request_ids is not None:  # as CorrelationIdFilter.filter sets it
            attrs["correlation_id"] = None
        attrs["message"] = ""  # as Formatter.format sets it
        fill = formatter.template(attrs, VARIABLE)
        if len(templates) > 8:  # formatters come and go (tests): keep a few
            templates.clear()
        line = templates[key] = None if fill is None else Line(fill, common)
    except Exception:
        return None
    return line


def access_record(msg: str, args: tuple[Any, ...], extra: dict[str, Any]) -> logging.LogRecord:
    """An INFO record of the access logger, as ``ACCESS_LOG.info(msg, *args, extra=extra)``
    would make it, for ``ACCESS_LOG.handle``."""
    return _record(_attributes(msg, args, extra))


def _prototype() -> tuple[dict[str, Any], dict[TemplateKey, Line | None]]:
    """This thread's prototype and the templates made with it (both made if need be)."""
    thread = threading.get_ident()
    common = _PROTOTYPES.get(thread)
    templates = _TEMPLATES.get(thread)
    if common is None or templates is None:
        if len(_PROTOTYPES) > 64:  # threads come and go (test clients): keep a few
            _PROTOTYPES.clear()
            _TEMPLATES.clear()
        made = ACCESS_LOG.makeRecord(ACCESS_LOG.name, logging.INFO, __file__, 0, "", (), None, "write")
        common = _PROTOTYPES[thread] = dict(made.__dict__)
        templates = _TEMPLATES[thread] = {}
    return common, templates


def _attributes(
    msg: str, args: tuple[Any, ...], extra: dict[str, Any], common: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The record's attributes: the thread's prototype's (``common``, else looked up), and
    those of this line."""
    if common is None:
        common = _prototype()[0]
    attrs = common.copy()
    now = time.time()
    attrs["created"] = now
    attrs["msecs"] = int((now - int(now)) * 1000) + 0.0
    attrs["relativeCreated"] = common["relativeCreated"] + (now - common["created"]) * 1000
    attrs["msg"] = msg
    attrs["args"] = args
    attrs.update(extra)
    return attrs


def _record(attrs: dict[str, Any]) -> logging.LogRecord:
    record = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__.update(attrs)
    return record


def _direct_handler() -> tuple[BatchedLines, JsonLines, CorrelationIdFilter | None] | None:
    """The service's batched JSON handler, with its request-id filter, when it is the only
    place the access logger's INFO records go and nothing on the way changes them; else
    None. Looked at on every line (a handful of attribute reads), so a logging set-up
    changed at any time is followed at once."""
    if ACCESS_LOG.disabled or ACCESS_LOG.filters:
        return None
    found: BatchedLines | None = None
    logger: logging.Logger | None = ACCESS_LOG
    while logger is not None:
        for handler in logger.handlers:
            if found is not None or type(handler) is not BatchedLines:
                return None
            found = handler
        if not logger.propagate:
            break
        logger = logger.parent
    if found is None or found.level > logging.INFO or found.batched != ACCESS_LOG.name:
        return None
    formatter = found.formatter
    if type(formatter) is not JsonLines or not formatter.direct:
        return None
    request_ids = None
    for check in found.filters:
        if type(check) is CorrelationIdFilter and check.uuid_length is None and request_ids is None:
            request_ids = check
        elif type(check) is not RedactSecrets:
            return None
    return found, formatter, request_ids
