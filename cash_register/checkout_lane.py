"""POST /purchase straight from the server, past FastAPI's routing.

The till endpoint is the one hot path, and FastAPI's routing, dependency solving and inner
middlewares cost more CPU than recording the purchase (`make bench` measured about a third
more purchases per second without them). This pure ASGI middleware answers POST /purchase
with the very handler the documented route in `api.py` uses, and maps its errors with the same
problem-details handlers; every other request goes on to FastAPI. It sits inside FastAPI's
outer middlewares, so the request body limit and the last-resort 500 handler still apply.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cash_register.api import post_purchase
from db.problems import problem_for


class CheckoutLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/purchase"
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await post_purchase(request)
        except Exception as error:
            answer = await problem_for(request, error)
            if answer is None:
                raise
            response = answer
        await response(scope, receive, send)
