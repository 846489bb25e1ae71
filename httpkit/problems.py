"""Errors as HTTP problem details (RFC 9457), the one place both services map them.

A service raises `Problem` subclasses (its domain errors) from its logic; the handlers
installed here turn those, request validation errors and an unavailable database into
`application/problem+json` answers. Every 503 carries `Retry-After` and a `cause` saying
which wait ran out: the database unreachable, the pool exhausted, a statement timed out, or
the service shutting down.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from db.errors import DatabaseUnavailable
from httpkit.request_ids import current_request_id
from httpkit.settings import http_settings
from telemetry.metrics import instruments

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemDetails(BaseModel):
    """Every error answer (RFC 9457, application/problem+json); some kinds add fields."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="The kind of error: GET it for its description.")
    title: str
    status: int
    detail: str = Field(description="What is wrong with this request, in words.")
    request_id: str | None = Field(default=None, description="The request's X-Request-ID.")


PROBLEM: dict[str, Any] = {"model": ProblemDetails, "description": "Problem details"}


@dataclass(frozen=True)
class ProblemType:
    """One kind of error (RFC 9457 `type`): its URI, status and title, and what it means.
    The URI is relative to the service: GET /problems/<slug> describes it."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"{TYPE_PATH}{self.slug}"


TYPE_PATH = "/problems/"
PROBLEM_TYPES: dict[str, ProblemType] = {}


def problem_type(slug: str, status: int, title: str, description: str) -> ProblemType:
    """Declare a kind of error; every kind is listed at GET /problems/<slug>."""
    kind = ProblemType(slug, status, title, " ".join(description.split()))
    PROBLEM_TYPES[slug] = kind
    return kind


class Problem(Exception):
    """A domain error with the HTTP status and title it is answered with. Each subclass is
    its own kind of error, its type named after the class (UnknownProduct: unknown-product)
    and described by its docstring."""

    status = 400
    title = "Bad request"
    kind: ClassVar[ProblemType]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        slug = re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()
        cls.kind = problem_type(slug, cls.status, cls.title, cls.__doc__ or cls.title)

    def __init__(
        self, detail: str, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers  # sent with the answer, e.g. a 429's Retry-After
        self.extensions = extensions


class ShuttingDown(Problem):
    """The service is stopping and takes no new work; the client should retry (elsewhere)."""

    status = 503
    title = "Shutting down"
    cause = "shutting_down"

    def __init__(self, service: str) -> None:
        super().__init__(
            f"this {service} is shutting down and takes no new requests; "
            "send the request again (another instance will take it)",
            cause=self.cause,
        )


INVALID_REQUEST = problem_type(
    "invalid-request", 422, "Invalid request",
    "The request does not fit the API: each wrong field is named in `errors`.",
)  # fmt: skip
DATABASE_UNAVAILABLE = problem_type(
    "database-unavailable", 503, "Database unavailable",
    "The database could not serve the request now (`cause`: database_unreachable, "
    "pool_exhausted or statement_timeout); nothing was stored. Retry after `Retry-After`.",
)  # fmt: skip
# Answered by nginx in front of the cash registers (ops/nginx), never by a service: none of
# them could take the request just then (each was down or answered 503 a moment ago).
NO_CASH_REGISTER = problem_type(
    "no-cash-register", 503, "No cash register available",
    "No cash register could take the request now (`cause`: no_cash_register). Nothing was "
    "stored unless an earlier try with the same Idempotency-Key was. Retry after `Retry-After`.",
)  # fmt: skip
NOT_FOUND = problem_type("not-found", 404, "Not Found", "No such resource.")
METHOD_NOT_ALLOWED = problem_type(
    "method-not-allowed", 405, "Method Not Allowed", "The resource does not take this method."
)
HTTP_ERROR = problem_type("http-error", 400, "HTTP error", "A request the server cannot serve.")
_BY_STATUS = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}
# The access log's status for a request whose client left before it was read (nginx's own
# number for it: no answer is sent).
CLIENT_GONE = 499

log = logging.getLogger(__name__)


def problem_response(
    kind: ProblemType, detail: str, headers: dict[str, str] | None = None, **extensions: Any
) -> Response:
    """One problem-details answer; a 503 always says when to try again, and every one names
    the request it answers, so a till's report can be matched with our logs."""
    body = {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        **extensions,
    }
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    if kind.status == 503:
        instruments().unavailable.labels(str(extensions.get("cause", kind.slug))).inc()
        headers = {"Retry-After": str(http_settings().retry_after_seconds), **(headers or {})}
    return Response(
        orjson.dumps(body), status_code=kind.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


# What an answer repeats of what a client sent is bounded, so a request cannot make its own
# answer larger than itself: values shown are cut to ECHO_CHARACTERS, lists to ECHO_ITEMS.
ECHO_CHARACTERS = 64
ECHO_ITEMS = 10


def echoed(value: str) -> str:
    """A client's value as an answer may repeat it: at most ECHO_CHARACTERS, cut with `…`."""
    return value if len(value) <= ECHO_CHARACTERS else value[: ECHO_CHARACTERS - 1] + "…"


def field_name(location: Iterable[int | str]) -> str:
    """`("body", "items", 3)` → `items[3]`: the part of a request that is wrong, named the
    same way in every answer (a 422 of a route, a rejected sale of an offline upload)."""
    name = ""
    for part in location:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, int) or str(part).isdigit():
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return echoed(name or "body")


def validation_errors(errors: Iterable[Any]) -> list[dict[str, str]]:
    """pydantic's errors as `{"field", "message"}` pairs, fields named by `field_name`: the
    first ECHO_ITEMS of them (a request with a thousand bad fields is told of ten)."""
    return [
        {"field": field_name(tuple(item.get("loc", ()))), "message": str(item.get("msg", ""))}
        for item in list(errors)[:ECHO_ITEMS]
    ]


def describe(errors: list[dict[str, str]]) -> str:
    """`field: message; field: message`, the `detail` of an invalid request."""
    return "; ".join(f"{item['field']}: {item['message']}" for item in errors)


async def _on_client_gone(_: Request, error: Exception) -> Response:
    """The client closed its connection before its body was read: nothing was done, nobody
    will read an answer. An ordinary event of a shop's network, logged as such."""
    assert isinstance(error, ClientDisconnect)
    log.info("the client went away before its request was read; nothing was done")
    return Response(status_code=CLIENT_GONE)


async def _on_domain_problem(_: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    return problem_response(error.kind, error.detail, headers=error.headers, **error.extensions)


async def _on_invalid_request(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = validation_errors(error.errors())
    return problem_response(INVALID_REQUEST, describe(errors) or "invalid request", errors=errors)


async def _on_database_unavailable(_: Request, error: Exception) -> Response:
    assert isinstance(error, DatabaseUnavailable)
    return problem_response(DATABASE_UNAVAILABLE, error.explanation, cause=error.cause)


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if isinstance(error.__cause__, ClientDisconnect):  # FastAPI's 400 for a body never read
        return await _on_client_gone(request, error.__cause__)
    kind = _BY_STATUS.get(error.status_code) or ProblemType(
        HTTP_ERROR.slug, error.status_code, str(error.detail), HTTP_ERROR.description
    )
    return problem_response(kind, str(error.detail), headers=getattr(error, "headers", None))


_HANDLERS = (
    (ClientDisconnect, _on_client_gone),
    (Problem, _on_domain_problem),
    (RequestValidationError, _on_invalid_request),
    (DatabaseUnavailable, _on_database_unavailable),
    (StarletteHTTPException, _on_http_error),
)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of this app as problem details."""
    for error_type, handler in _HANDLERS:
        app.add_exception_handler(error_type, handler)


async def refuse(
    scope: Scope, receive: Receive, send: Send, kind: ProblemType, detail: str, **headers: str
) -> None:
    """Answer a pure ASGI middleware's refusal as a problem, with its own headers."""
    await problem_response(kind, detail, headers=headers or None)(scope, receive, send)
