"""The frame both services are built in: the same errors, the same middleware, in the same
order, and the same start/stop shape for everything a service holds for its life.

Fast lanes (a Starlette route for one hot path, such as the cash register's POST /purchase)
are placed in the router's list of routes before every other route: the router tries them
first. Whatever wraps the app (request ids, the body limit,
authentication, the rate limit) therefore wraps a lane exactly as it wraps every other route,
by construction, and a lane's errors are answered by the same handlers.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from starlette.routing import Route
from starlette.types import Scope

from db.access_keys import AccessKeys, Kind
from db.screen_sessions import ScreenSessions
from httpkit.authentication import Authentication
from httpkit.bodies import BodyLimit, JsonOnly
from httpkit.docs import install_docs, operation_id
from httpkit.hosts import TrustedHosts
from httpkit.observing import Observing, Readiness, operations_router
from httpkit.problems import install_problem_handlers
from httpkit.rate_limit import RateLimit
from httpkit.request_ids import RequestIds
from httpkit.screens import Screen, install_screen
from telemetry.logs import configure_logging
from telemetry.metrics import instruments, worker_stopped


class Part(Protocol):
    """Something a service holds for its life: started at start-up, stopped at shutdown."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@asynccontextmanager
async def running(*parts: Part) -> AsyncIterator[None]:
    """Start the parts in order; stop them in reverse, also when a later one fails to start.

    Once started, everything alive (modules, models, routes: about 55,000 objects) is moved out
    of the garbage collector's sight: a full collection scanning them took 11 ms, a pause some
    request would otherwise wait through now and then.
    """
    async with AsyncExitStack() as stack:
        stack.callback(worker_stopped)
        for part in parts:
            await part.start()
            stack.push_async_callback(part.stop)
        gc.collect()
        gc.freeze()
        yield


def service_app(
    *,
    service: str,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], Any],
    router: APIRouter,
    keys_of: Callable[[Scope], AccessKeys],
    sessions_of: Callable[[Scope], ScreenSessions],
    screen: Screen,
    readiness: Readiness,
    lanes: Sequence[Route] = (),
    requests_per_second: Mapping[Kind, float] | None = None,
) -> FastAPI:
    """A service's FastAPI app with our error answers, middleware and lanes in their places.

    From the outside in: request ids, metrics and the access log, trusted hosts, the body limit,
    authentication, the rate limits per kind of key (0: none), JSON-only bodies, FastAPI's exception
    handlers, then the lanes and the router. Logging is set up and the metrics named here,
    first, before any request or part can write either.
    """
    configure_logging()
    instruments(service)
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        redirect_slashes=False,  # a redirect's Location would be built from the request's Host
        # Our metrics and logs are the services' own (Observing); FastAPI's OpenTelemetry
        # hooks, unconfigured, still looked for a provider in the environment on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    app.state.keys_of = keys_of
    app.state.sessions_of = sessions_of
    app.router.routes[:0] = lanes  # first: the router tries them before any other route
    app.include_router(router)
    app.include_router(operations_router(readiness))
    install_docs(app)  # before the screen's /static, which would take /static/docs too
    install_screen(app, screen)
    app.add_middleware(JsonOnly)
    if requests_per_second:
        app.add_middleware(RateLimit, per_second=requests_per_second)
    app.add_middleware(
        Authentication, keys_of=keys_of, sessions_of=sessions_of, session_cookie=screen.cookie
    )
    app.add_middleware(BodyLimit)
    app.add_middleware(TrustedHosts)
    app.add_middleware(Observing)
    app.add_middleware(RequestIds)
    return app
