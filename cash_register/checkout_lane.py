"""POST /purchase on a route of its own, first in the router, answered with the least work.

The till endpoint is the one hot path, and FastAPI's dependency solving and body handling
cost more CPU than recording the purchase (`make bench` measured about a third more purchases
per second without them). The lane is a Starlette `Route` placed before every other route: it
matches POST /purchase by comparing the path (no pattern to run), and answers it with
`api.checkout`, which calls the very handler the documented FastAPI route calls (that route
stays for the OpenAPI document). Its errors propagate to the app's exception handlers, which
answer them as every route's. Being a route, it sits inside every middleware, by
construction; a test proves both.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from cash_register.api import checkout

PURCHASE_PATH = "/purchase"


class CheckoutLane(Route):
    """The route that serves POST /purchase; any other method on the path is Starlette's
    usual 405."""

    def __init__(self) -> None:
        super().__init__(
            PURCHASE_PATH, checkout, methods=["POST"], name="checkout", include_in_schema=False
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["path"] == PURCHASE_PATH
            and not scope.get("root_path")
        ):
            match = Match.FULL if scope["method"] == "POST" else Match.PARTIAL
            # route_template: the metrics' route label (FastAPI sets `route` only for its own)
            return match, {"endpoint": checkout, "path_params": {}, "route_template": PURCHASE_PATH}
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await super().handle(scope, receive, send)  # 405, as Starlette answers it
            return
        response = await checkout(Request(scope, receive))
        await response(scope, receive, send)
