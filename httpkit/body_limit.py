"""Request bodies over a limit are refused with 413, counted while they are read.

A Content-Length over the limit is refused before anything is read; a body sent in chunks
without one is counted as it arrives and refused the moment it passes the limit, so a client
cannot make a service buffer an unbounded body. Pure ASGI, outermost of our middlewares.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from httpkit.problems import Problem, problem_response
from httpkit.settings import http_settings


class BodyTooLarge(Problem):
    """The request body is larger than MAX_BODY_BYTES; nothing was read past the limit."""

    status = 413
    title = "Request body too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes", max_bytes=limit)


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit if limit is not None else http_settings().max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            error = BodyTooLarge(self.limit)
            response = problem_response(error.kind, error.detail, **error.extensions)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
