"""Who may call what: a bearer key on every request for the chain's data, checked in memory.

    Authentication   401 (with WWW-Authenticate) without a live key; else the request carries
                     its `Credential` in scope["credential"]

Pure ASGI, so it wraps every route, the checkout lane included (httpkit.app). What a
credential may do (a till its own store's sales, an owner the figures) is each service's call.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from fastapi import Request, Security
from fastapi.security import HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from db.access_keys import AccessKeys, Credential, Kind
from db.errors import DatabaseUnavailable
from db.screen_sessions import ScreenSessions
from httpkit.problems import (
    DATABASE_UNAVAILABLE,
    Problem,
    problem_response,
    problem_type,
    refuse,
)
from telemetry import context
from telemetry.metrics import instruments

REALM = 'Bearer realm="supermarket"'
# What anyone may fetch: the service's description and health, its API documentation, the
# screens (which ask for a key before they show anything) and the sign-in and sign-out.
PUBLIC_PATHS = frozenset(
    {
        "/",
        "/health",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/till",
        "/dashboard",
        "/sign-in",
        "/sign-out",
        "/livez",
        "/readyz",
        "/metrics",
    }
)
PUBLIC_PREFIXES = ("/static/", "/problems/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Declares the bearer key in a route's OpenAPI entry; `Authentication` is what checks it.
BEARER = Security(
    HTTPBearer(auto_error=False, description="A till's or an owner's key (python -m admin).")
)


class Forbidden(Problem):
    """A valid key that may not do this: nothing was read or stored."""

    status = 403
    title = "Forbidden"


def credential_of(scope: Scope) -> Credential:
    """The caller of an authenticated request (set by `Authentication`)."""
    credential = scope["credential"]
    assert isinstance(credential, Credential)
    return credential


def caller_of_kind(kind: Kind, refusal: Callable[[], Forbidden]) -> Callable[[Request], Credential]:
    """A FastAPI dependency: the caller, who must hold a `kind` key, else `refusal()` (403)."""

    def caller(request: Request) -> Credential:
        credential = credential_of(request.scope)
        if credential.kind != kind:
            raise refusal()
        return credential

    return caller


AUTHENTICATION_REQUIRED = problem_type(
    "authentication-required", 401, "Authentication required",
    "No key, or a key that is unknown or revoked: send a live key as Authorization: Bearer.",
)  # fmt: skip
CSRF_TOKEN_MISSING = problem_type(
    "csrf-token-missing", 403, "Forbidden",
    "A request signed by a screen's session cookie that changes something must carry the "
    "screen's X-CSRF-Token.",
)  # fmt: skip


SESSION_ENDED = "the screen's session has ended, expired, or its key was revoked; sign in again"


class Authentication:
    """The caller's key from `Authorization: Bearer` (tills, scripts), or else the screen's
    session: a session id in the screen's cookie, looked up in the database (every worker
    and cash register knows it), live only while it has neither ended nor expired and its key
    is still live. A cookie travels with every request the browser makes, so a request that
    changes something must also carry the session's own CSRF token in `X-CSRF-Token`."""

    def __init__(
        self,
        app: ASGIApp,
        keys_of: Callable[[Scope], AccessKeys],
        sessions_of: Callable[[Scope], ScreenSessions] | None = None,
        session_cookie: str | None = None,
        public: Collection[str] = PUBLIC_PATHS,
    ) -> None:
        self.app = app
        self.keys_of = keys_of
        self.sessions_of = sessions_of
        self.session_cookie = session_cookie
        self.public = public
        self.failures = instruments().authentication_failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_public(scope["path"], self.public):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        header = headers.get(b"authorization", b"").decode("latin-1")
        session_id = None
        if not header and self.session_cookie is not None:
            session_id = session_cookie_value(headers, self.session_cookie)
        if session_id:
            credential = await self._of_session(scope, receive, send, headers, session_id)
        else:
            credential = await self._of_bearer(scope, receive, send, header)
        if credential is None:
            return  # refused, and answered
        scope["credential"] = credential
        serving = context.current.get()
        if serving is not None:
            serving.caller = credential.name
        await self.app(scope, receive, send)

    async def _of_bearer(
        self, scope: Scope, receive: Receive, send: Send, header: str
    ) -> Credential | None:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            self.failures.labels("no_key").inc()
            await refuse(
                scope, receive, send, AUTHENTICATION_REQUIRED,
                "send the till's or owner's key as Authorization: Bearer <key>",
                **{"WWW-Authenticate": REALM},
            )  # fmt: skip
            return None
        try:
            credential = await self.keys_of(scope).find(key.strip())
        except DatabaseUnavailable as error:
            await _unavailable(scope, receive, send, error)
            return None
        if credential is None:
            self.failures.labels("unknown_or_revoked_key").inc()
            await refuse(
                scope, receive, send, AUTHENTICATION_REQUIRED,
                "the key is unknown or revoked",
                **{"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
            )  # fmt: skip
        return credential

    async def _of_session(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        session_id: str,
    ) -> Credential | None:
        assert self.sessions_of is not None
        try:
            session = await self.sessions_of(scope).live(session_id)
            keys = self.keys_of(scope)
            credential = None if session is None else await keys.find_hash(session.key_hash)
        except DatabaseUnavailable as error:
            await _unavailable(scope, receive, send, error)
            return None
        if session is None or credential is None:
            self.failures.labels("session_ended").inc()
            await refuse(scope, receive, send, AUTHENTICATION_REQUIRED, SESSION_ENDED)
            return None
        if scope["method"] not in SAFE_METHODS:
            token = headers.get(b"x-csrf-token", b"").decode("latin-1")
            if not session.csrf_matches(token):
                self.failures.labels("csrf_token_missing").inc()
                await refuse(
                    scope, receive, send, CSRF_TOKEN_MISSING,
                    "a screen's request must carry its session's X-CSRF-Token; sign in again",
                )  # fmt: skip
                return None
        return credential


async def _unavailable(
    scope: Scope, receive: Receive, send: Send, error: DatabaseUnavailable
) -> None:
    """The key could not be checked: the database is away, a 503 as every route's."""
    response = problem_response(DATABASE_UNAVAILABLE, error.explanation, cause=error.cause)
    await response(scope, receive, send)


def _is_public(path: str, public: Collection[str]) -> bool:
    return path in public or path.startswith(PUBLIC_PREFIXES)


def _cookies(headers: dict[bytes, bytes]) -> dict[str, str]:
    """The request's cookies by name (the first of a name wins)."""
    found: dict[str, str] = {}
    for pair in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = pair.strip().partition("=")
        found.setdefault(name, value)
    return found


def session_cookie_names(cookie: str) -> tuple[str, str]:
    """The session's cookie names: `__Host-` first (over HTTPS), then the plain one (HTTP)."""
    return f"__Host-{cookie}", cookie


def session_cookie_value(headers: dict[bytes, bytes], cookie: str) -> str | None:
    """The session id a request carries in the screen's cookie, if any."""
    cookies = _cookies(headers)
    return next((cookies[n] for n in session_cookie_names(cookie) if cookies.get(n)), None)
