"""Logs as one JSON object per line (or plain text), uvicorn's own included.

Every line written while a request is served carries its request id and, once known, the
till or owner that sent it (by name: a key, a password, a cookie or a card number is never
put in a log line, because nothing here is ever given one). The access log is a line per
request written by `httpkit.observing` with method, route, status and duration.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from telemetry import context
from telemetry.settings import telemetry_settings

ACCESS = logging.getLogger("access")
# Fields an access line adds (logging's `extra`).
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")


def _request_fields() -> dict[str, Any]:
    """The request being served, if any: its id and, once authenticated, its caller."""
    serving = context.current.get()
    if serving is None:
        return {}
    if serving.caller is None:
        return {"request_id": serving.request_id}
    return {"request_id": serving.request_id, "caller": serving.caller}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = _request_fields()
    for name in ACCESS_FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            fields[name] = value
    return fields


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class PlainLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        extra = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{moment} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line}  {extra}" if extra else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def access_line(method: str, route: str, status: int, duration_ms: float) -> None:
    """The access line of one request. In JSON, written straight to stderr: the same object
    a JsonLines record would make, for a fifth of logging's cost (23 µs a line through the
    logging machinery, measured, on the hottest path there is)."""
    if ACCESS.disabled:
        return
    fields = {"method": method, "route": route, "status": status, "duration_ms": duration_ms}
    if telemetry_settings().log_format != "json":
        ACCESS.info("%s %s %d", method, route, status, extra=fields)
        return
    entry: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": "info",
        "logger": ACCESS.name,
        "message": f"{method} {route} {status}",
        **_request_fields(),
        **fields,
    }
    sys.stderr.write(orjson.dumps(entry).decode() + "\n")


def chosen_formatter() -> logging.Formatter:
    """The formatter LOG_FORMAT asks for (also named by uvicorn-logging.json, with which the
    uvicorn supervisor, which never imports the app, logs in the same format)."""
    return JsonLines() if telemetry_settings().log_format == "json" else PlainLines()


def configure_logging() -> None:
    """Send every logger, uvicorn's included, through one handler in the chosen format.

    Called when a service's app is made, which uvicorn does after setting up its own logging,
    so this replaces uvicorn's handlers. uvicorn's access log is off: ours knows more.
    """
    settings = telemetry_settings()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(chosen_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    ACCESS.disabled = not settings.access_log
