"""Errors as HTTP problem details (RFC 9457), the one place both services map them.

A service raises `Problem` subclasses (its domain errors) from its logic; the handlers
installed here turn those, request validation errors and an unavailable database into
`application/problem+json` answers. Every 503 carries `Retry-After` and a `cause` saying
which wait ran out: the database unreachable, the pool exhausted, a statement timed out, or
the service shutting down.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from db.errors import DatabaseUnavailable
from httpkit.request_ids import current_request_id
from httpkit.settings import http_settings

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM = {"description": "Problem details (application/problem+json)"}


class Problem(Exception):
    """A domain error with the HTTP status and title it is answered with."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
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


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extensions: Any
) -> Response:
    """One problem-details answer; a 503 always says when to try again, and every one names
    the request it answers, so a till's report can be matched with our logs."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extensions}
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    if status == 503:
        headers = {"Retry-After": str(http_settings().retry_after_seconds), **(headers or {})}
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


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
    return name or "body"


def validation_errors(errors: Iterable[Any]) -> list[dict[str, str]]:
    """pydantic's errors as `{"field", "message"}` pairs, fields named by `field_name`."""
    return [
        {"field": field_name(tuple(item.get("loc", ()))), "message": str(item.get("msg", ""))}
        for item in errors
    ]


def describe(errors: list[dict[str, str]]) -> str:
    """`field: message; field: message`, the `detail` of an invalid request."""
    return "; ".join(f"{item['field']}: {item['message']}" for item in errors)


async def _on_domain_problem(_: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    return problem_response(error.status, error.title, error.detail, **error.extensions)


async def _on_invalid_request(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = validation_errors(error.errors())
    return problem_response(
        422, "Invalid request", describe(errors) or "invalid request", errors=errors
    )


async def _on_database_unavailable(_: Request, error: Exception) -> Response:
    assert isinstance(error, DatabaseUnavailable)
    return problem_response(503, "Database unavailable", error.explanation, cause=error.cause)


async def _on_http_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    return problem_response(
        error.status_code,
        str(error.detail),
        str(error.detail),
        headers=getattr(error, "headers", None),
    )


_HANDLERS = (
    (Problem, _on_domain_problem),
    (RequestValidationError, _on_invalid_request),
    (DatabaseUnavailable, _on_database_unavailable),
    (StarletteHTTPException, _on_http_error),
)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of this app as problem details."""
    for error_type, handler in _HANDLERS:
        app.add_exception_handler(error_type, handler)
