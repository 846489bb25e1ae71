"""What a request body may be: at most MAX_BODY_BYTES (413), and JSON (415).

    BodyLimit   413 for a body over the limit, counted while it is read
    JsonOnly    415 for a POST, PUT or PATCH body that is not application/json (a request
                without a body passes)

A Content-Length over the limit is refused before anything is read; a body sent in chunks
without one is counted as it arrives and refused the moment it passes the limit, so a client
cannot make a service buffer an unbounded body. Pure ASGI, outermost of our middlewares.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from httpkit.problems import Problem, problem_response, problem_type, refuse
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


UNSUPPORTED_MEDIA_TYPE = problem_type(
    "unsupported-media-type", 415, "Unsupported media type",
    "A request body must be JSON, sent with Content-Type: application/json.",
)  # fmt: skip


def _no_body(headers: dict[bytes, bytes]) -> bool:
    """A request that sends nothing (a POST that only acts, as closing a till's day) has no
    body to be of the wrong type."""
    if b"transfer-encoding" in headers or b"content-type" in headers:
        return False
    return headers.get(b"content-length", b"0").strip() == b"0"


class JsonOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            media = headers.get(b"content-type", b"").split(b";")[0].strip()
            if not (media == b"application/json" or media.endswith(b"+json") or _no_body(headers)):
                await refuse(
                    scope, receive, send, UNSUPPORTED_MEDIA_TYPE,
                    "the body must be JSON, sent with Content-Type: application/json",
                )  # fmt: skip
                return
        await self.app(scope, receive, send)
