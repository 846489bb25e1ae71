"""The till's two POST endpoints on routes of their own, first in the router.

POST /purchase is the one hot path, and FastAPI's dependency solving and body handling cost
more CPU than recording the purchase (`make bench` measured about a third more purchases per
second without them). POST /purchases carries up to a megabyte of sales, which FastAPI would
parse and validate in one piece, holding the event loop (and every other till's sale) for as
long as that takes; its lane reads the body only once the till's upload is admitted, and
checks the sales a few at a time.

A lane is a Starlette `Route` placed before every other route: it matches its POST by
comparing the path (no pattern to run), and answers with the handler the documented FastAPI
route stands for (that route stays for the OpenAPI document). Its errors propagate to the
app's exception handlers, which answer them as every route's. Being a route, it sits inside
every middleware, by construction; a test proves both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from cash_register.api import checkout, receive_upload

Handler = Callable[[Request], Awaitable[Response]]


class Lane(Route):
    """The route that serves POST `path` with `handler`; any other method on the path is
    Starlette's usual 405."""

    def __init__(self, path: str, handler: Handler) -> None:
        super().__init__(
            path, handler, methods=["POST"], name=handler.__name__, include_in_schema=False
        )
        self.handler = handler

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"] == self.path and not scope.get("root_path"):
            match = Match.FULL if scope["method"] == "POST" else Match.PARTIAL
            # route_template: the metrics' route label (FastAPI sets `route` only for its own)
            child = {"endpoint": self.handler, "path_params": {}, "route_template": self.path}
            return match, child
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await super().handle(scope, receive, send)  # 405, as Starlette answers it
            return
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


def till_lanes() -> list[Route]:
    """The lanes of the cash register: a sale, and a till's offline upload."""
    return [Lane("/purchase", checkout), Lane("/purchases", receive_upload)]
