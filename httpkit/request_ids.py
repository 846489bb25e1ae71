"""Request ids: one name for one request, from the till's log to ours to the stored sale.

A client that sends `X-Request-ID` (a till, nginx, a load balancer) keeps its id when it is a
sane one; otherwise the service makes one. The id is echoed in the answer's `X-Request-ID`,
put in every problem-details body and every log line of the request, and stored with each
sale the request recorded. Pure ASGI and outermost, so every answer carries it, a 401 or a
413 from the other middleware included.
"""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry.context import RequestContext, current

HEADER = "X-Request-ID"
_HEADER_BYTES = HEADER.lower().encode()
# Letters, digits and . _ : - only, at most 128: what goes into logs and the database is never
# a client's free text (no newlines, quotes or control characters).
_SANE = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


def current_request_id() -> str | None:
    """The id of the request being served by this task, if any."""
    serving = current.get()
    return serving.request_id if serving is not None else None


def _id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == _HEADER_BYTES:
            if _SANE.fullmatch(value):
                return str(value.decode())
            break
    return os.urandom(16).hex()  # 128 random bits, as uuid4 has, for a third of its cost


class RequestIds:
    """Gives every HTTP request an id, known to all code that serves it and echoed back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _id_from(scope)
        token = current.set(RequestContext(request_id, scope["method"], scope["path"]))
        echoed = (_HEADER_BYTES, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current.reset(token)
