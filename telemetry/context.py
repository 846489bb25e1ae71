"""The request being served, known to all code that serves it (and to every log line)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestContext:
    request_id: str
    method: str
    path: str
    caller: str | None = None  # the till or owner, once authenticated (never the key)


current: ContextVar[RequestContext | None] = ContextVar("request", default=None)
