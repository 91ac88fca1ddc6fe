"""The access line: one per request, written by ``Telemetry`` once the response is sent.

It is an INFO record of the ``runstrong.access`` logger: method, path (tokens redacted),
route template, status, duration, client address and, when the caller authenticated, the
user id; never headers, query strings or bodies. Wherever logging sends it, it goes there.

Where it goes to the service's own handler (``logging_config``: one ``BatchedLines``
with the ``JsonLines`` formatter and the request-id and redaction filters, and nothing
else on the way), the record's attributes go to that handler's batch directly, with the
template that writes them: the same text, without a ``LogRecord`` and the logger's and
handler's generic steps (about 10 us of the 105 a cached catalogue answer took), and
written when the batch is, the lines one after another (a served request ran this
writing between uvicorn's and the kernel's work, at about twice the CPU). Any other set-up
(a test's capture handler, text lines, another handler or filter) gets the record.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
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
    ms = round(duration * 1000, 2)
    path = redact(scope["path"])  # once, here: the filter then leaves the line alone
    args = (scope["method"], path, status, ms)
    extra = {
        "method": scope["method"],
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": ms,
        "client": client[0] if client else None,
        "user_id": scope.get("state", {}).get("user_id"),
        REDACTED: True,
    }
    direct = _direct_handler()
    if direct is not None:
        handler, formatter, request_ids = direct
        try:
            later = _deferred(formatter, request_ids, args, extra)
        except Exception:  # the record then takes logging's way, which reports the failure as any handler's
            later = None
        if later is not None:
            handler.add_later(*later)
            return
    ACCESS_LOG.handle(access_record(MESSAGE, args, extra))


# What varies from one access line to the next; every other attribute is the same for
# every line a thread of this process writes.
_VARIABLE = frozenset(
    {"method", "path", "route", "status", "duration_ms", "client", "user_id", REDACTED}
    | {"message", "correlation_id", "msg", "args", "created", "msecs", "relativeCreated"}
)
# A line's template is made from the attributes a thread's records have (its prototype),
# for a formatter with its prefix, with or without the request-id filter's attribute: it
# is kept with that prototype, so the two are made and forgotten together.
TemplateKey = tuple[JsonLines, str, bool]
_TEMPLATES: dict[int, dict[TemplateKey, Callable[[dict[str, Any]], str] | None]] = {}


def _forget() -> None:
    """In a forked child: another process id, so neither prototypes nor templates hold."""
    _PROTOTYPES.clear()
    _TEMPLATES.clear()


os.register_at_fork(after_in_child=_forget)


def _deferred(
    formatter: JsonLines, request_ids: CorrelationIdFilter | None, args: tuple[Any, ...], extra: dict[str, Any]
) -> tuple[Callable[[dict[str, Any]], str], dict[str, Any]] | None:
    """What writes, when the batch is written, the text ``formatter`` writes for the record
    ``access_record`` makes now, once ``request_ids`` has set its request id: the line's
    template and values; None where the formatter has no template."""
    values = _attributes(MESSAGE, args, extra, prototype=False)
    if request_ids is not None:  # as CorrelationIdFilter.filter sets it
        values["correlation_id"] = correlation_id.get(request_ids.default_value)
    values["message"] = MESSAGE % args  # as Formatter.format sets it
    templates = _TEMPLATES[threading.get_ident()]  # made with the prototype, by _attributes
    key = (formatter, formatter.prefix, request_ids is not None)
    if key in templates:
        template = templates[key]
    else:
        if len(templates) > 8:  # formatters come and go (tests): keep a few
            templates.clear()
        attrs = _attributes(MESSAGE, args, extra)
        if request_ids is not None:
            attrs["correlation_id"] = values["correlation_id"]
        attrs["message"] = values["message"]
        template = templates[key] = formatter.template(attrs, _VARIABLE)
    return None if template is None else (template, values)


def access_record(msg: str, args: tuple[Any, ...], extra: dict[str, Any]) -> logging.LogRecord:
    """An INFO record of the access logger, as ``ACCESS_LOG.info(msg, *args, extra=extra)``
    would make it, for ``ACCESS_LOG.handle``."""
    return _record(_attributes(msg, args, extra))


def _attributes(msg: str, args: tuple[Any, ...], extra: dict[str, Any], *, prototype: bool = True) -> dict[str, Any]:
    """The record's attributes; with ``prototype=False`` only those that vary (_VARIABLE)."""
    thread = threading.get_ident()
    common = _PROTOTYPES.get(thread)
    if common is None:
        if len(_PROTOTYPES) > 64:  # threads come and go (test clients): keep a few
            _PROTOTYPES.clear()
            _TEMPLATES.clear()
        made = ACCESS_LOG.makeRecord(ACCESS_LOG.name, logging.INFO, __file__, 0, "", (), None, "write")
        common = _PROTOTYPES[thread] = dict(made.__dict__)
        _TEMPLATES[thread] = {}
    attrs = common.copy() if prototype else {}
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
