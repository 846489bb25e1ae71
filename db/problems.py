"""Errors as HTTP problem details (RFC 9457), the one place both services map them.

A service raises `Problem` subclasses (its domain errors) from its logic; the handlers
installed here turn those, request validation errors and an unreachable database into
`application/problem+json` answers. It lives in `db/` because that is the one package the
services share; it holds no SQL.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from db.errors import DatabaseUnavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """A domain error with the HTTP status and title it is answered with."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extensions: Any
) -> Response:
    """One problem-details answer."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extensions}
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _field_name(location: tuple[int | str, ...]) -> str:
    """`("body", "items", 3)` → `items[3]`; the part of the request that is wrong."""
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name or "body"


async def _on_domain_problem(_: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    return problem_response(error.status, error.title, error.detail, **error.extensions)


async def _on_invalid_request(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"field": _field_name(tuple(item.get("loc", ()))), "message": str(item.get("msg", ""))}
        for item in error.errors()
    ]
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors)
    return problem_response(422, "Invalid request", detail or "invalid request", errors=errors)


async def _on_database_unavailable(_: Request, error: Exception) -> Response:
    assert isinstance(error, DatabaseUnavailable)
    return problem_response(
        503,
        "Database unavailable",
        "The database is not reachable right now; try again shortly.",
        headers={"Retry-After": str(DatabaseUnavailable.retry_after_seconds)},
    )


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


async def problem_for(request: Request, error: Exception) -> Response | None:
    """The answer to `error`, for code that runs outside FastAPI's exception handling."""
    for error_type, handler in _HANDLERS:
        if isinstance(error, error_type):
            return await handler(request, error)
    return None
