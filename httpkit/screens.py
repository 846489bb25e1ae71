"""The screens people use in a browser (the till screen, the owners' dashboard): the pages,
their files, and signing in with a key that then lives in an HttpOnly cookie.

A page is plain HTML with its own script and style (no CDN, nothing inline), served under a
Content-Security-Policy that allows nothing but this origin. The page asks for the key; the
sign-in checks it is of the screen's kind (a till's at the till, an owner's at the dashboard),
starts a session kept by the server (db/screen_sessions.py: it ends at sign-out, after
SESSION_HOURS, or with its key) and answers with two cookies, both SameSite=Strict: the
session id (never the key), HttpOnly so no script can read it, and the session's CSRF token,
which the page's script sends back in `X-CSRF-Token` (`Authentication` checks it on every
request that changes something). Over HTTPS both are `Secure` and named `__Host-…`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from db.access_keys import AccessKeys, Credential, Kind
from db.screen_sessions import ScreenSessions
from httpkit.authentication import (
    BEARER,
    Forbidden,
    credential_of,
    session_cookie_names,
    session_cookie_value,
)
from httpkit.problems import PROBLEM, Problem
from httpkit.settings import http_settings
from shop.settings import shop_settings

SHARED_FILES = Path(__file__).parent / "screen"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
SESSION_HOURS = 12
# The OpenAPI answer of a service's `/`: the screen for a browser, JSON for a program.
SCREEN_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/html": {}}}
}


@dataclass(frozen=True)
class Screen:
    """A service's screen: whose keys sign in to it, the cookie that keeps them, its files."""

    kind: Kind
    name: str
    cookie: str
    files: Path


class SignIn(BaseModel):
    key: str = Field(min_length=1, max_length=200, description="A key from `python -m admin`.")


class Caller(BaseModel):
    """Who is signed in."""

    kind: Kind
    name: str
    supermarket_id: str | None = Field(description="A till's store, or a manager's; else null.")
    currency: str = Field(description="ISO 4217 code of every amount the screens show.")


class UnknownKey(Problem):
    """The key given to sign in is unknown or revoked."""

    status = 401
    title = "Authentication required"

    def __init__(self) -> None:
        super().__init__("the key is unknown or revoked")


class WrongScreen(Forbidden):
    """The key is of another kind than the screen's (a till's key at the dashboard)."""

    def __init__(self, kind: Kind, screen: str) -> None:
        super().__init__(f"a {kind}'s key does not sign in to the {screen}")


def wants_html(request: Request) -> bool:
    """A browser asking for a page (its Accept names text/html) rather than a JSON client."""
    return "text/html" in request.headers.get("accept", "")


def page(file: Path) -> Response:
    return FileResponse(file, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def over_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (behind a proxy: the scheme it forwarded, which
    uvicorn takes only from FORWARDED_ALLOW_IPS), or SESSION_COOKIE_SECURE says it always does.
    Then the session's cookies are `Secure` and named `__Host-…`."""
    return request.url.scheme == "https" or http_settings().session_cookie_secure


def caller(credential: Credential) -> dict[str, Any]:
    return Caller(
        kind=credential.kind,
        name=credential.name,
        supermarket_id=credential.supermarket_id,
        currency=shop_settings().currency,
    ).model_dump()


def session_router(screen: Screen) -> APIRouter:
    """POST /sign-in, POST /sign-out and GET /session for a screen of `kind` keys."""
    kind, cookie = screen.kind, screen.cookie
    router = APIRouter(tags=["screen"])

    @router.post(
        "/sign-in",
        operation_id="sign_in",
        response_model=Caller,
        responses={401: PROBLEM, 403: PROBLEM, 415: PROBLEM, 422: PROBLEM},
    )
    async def sign_in(request: Request, body: SignIn) -> Response:
        """Check the key and keep it in an HttpOnly, SameSite=Strict cookie for the screen."""
        keys: AccessKeys = request.app.state.keys_of(request.scope)
        key = body.key.strip()
        credential = await keys.find(key)
        if credential is None:
            raise UnknownKey()
        if credential.kind != kind:
            raise WrongScreen(credential.kind, screen.name)
        sessions: ScreenSessions = request.app.state.sessions_of(request.scope)
        started = await sessions.start(key, kind, timedelta(hours=SESSION_HOURS))
        response = Response(orjson.dumps(caller(credential)), media_type="application/json")
        secure = over_https(request)
        name = session_cookie_names(cookie)[0 if secure else 1]
        for cookie_name, value, http_only in (
            (name, started.session_id, True),
            (f"{name}_csrf", started.csrf_token, False),
        ):
            response.set_cookie(
                cookie_name, value, max_age=SESSION_HOURS * 3600, path="/", secure=secure,
                httponly=http_only, samesite="strict",
            )  # fmt: skip
        return response

    @router.post("/sign-out", operation_id="sign_out", status_code=204, responses={415: PROBLEM})
    async def sign_out(request: Request) -> Response:
        """End the screen's session (its cookie no longer signs anything in) and forget it
        in this browser."""
        session_id = session_cookie_value(dict(request.scope["headers"]), cookie)
        if session_id:
            await request.app.state.sessions_of(request.scope).end(session_id)
        response = Response(status_code=204)
        for name in session_cookie_names(cookie):
            for cookie_name in (name, f"{name}_csrf"):
                response.delete_cookie(
                    cookie_name, path="/", samesite="strict", secure=name.startswith("__Host-")
                )
        return response

    @router.get(
        "/session",
        operation_id="who_is_signed_in",
        response_model=Caller,
        dependencies=[BEARER],
        responses={401: PROBLEM, 429: PROBLEM},
    )
    async def session(request: Request) -> dict[str, Any]:
        """The signed-in caller (or the bearer key's), for the screen to greet."""
        return caller(credential_of(request.scope))

    return router


def install_screen(app: FastAPI, screen: Screen) -> None:
    """The sign-in routes, /static/shared/ the files both screens use, /static/ the screen's."""
    app.include_router(session_router(screen))
    app.mount("/static/shared", StaticFiles(directory=SHARED_FILES), name="shared-files")
    app.mount("/static", StaticFiles(directory=screen.files), name="screen-files")
