"""POST /purchase straight from the router's place, past FastAPI's routing.

The till endpoint is the one hot path, and FastAPI's routing, dependency solving and body
handling cost more CPU than recording the purchase (`make bench` measured about a third more
purchases per second without them). This lane answers POST /purchase with `api.checkout`,
which calls the very handler the documented route calls; every other request goes on to the
router. It is placed where the router is (httpkit.app), so every middleware wraps it and its
errors are answered by the same problem-details handlers as any route's.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cash_register.api import checkout


class CheckoutLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/purchase":
            scope["route_template"] = "/purchase"  # for the metrics: the route it stands for
            response = await checkout(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
