"""Only the host names the services are configured for (TRUSTED_HOSTS): a request naming
another host in its Host header is a 400 before anything reads it.

A forged Host otherwise travels into whatever an answer builds from the request's URL (the
links of `GET /`, a redirect's Location). Pure ASGI, just inside the request ids and the
metrics, so a refusal is counted and names its request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from httpkit.problems import problem_type, refuse
from httpkit.settings import http_settings

UNTRUSTED_HOST = problem_type(
    "untrusted-host", 400, "Untrusted host",
    "The Host header names a host this service is not configured for (TRUSTED_HOSTS).",
)  # fmt: skip


def host_name(header: str) -> str:
    """The Host header's name without its port: `[::1]:8000` → `::1`, `shop:80` → `shop`."""
    if header.startswith("["):
        return header[1 : header.find("]")]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def trusted(name: str, patterns: list[str]) -> bool:
    """Whether `name` is one of `patterns`: a name, `*.domain` (its subdomains), or `*`."""
    name = name.lower()
    return any(
        pattern == "*"
        or name == pattern.lower()
        or (pattern.startswith("*.") and name.endswith(pattern[1:].lower()))
        for pattern in patterns
    )


class TrustedHosts:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.patterns = http_settings().trusted_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not trusted(host_name(header), self.patterns):
                await refuse(
                    scope, receive, send, UNTRUSTED_HOST,
                    "Host: not a host this service answers to; see TRUSTED_HOSTS",
                )  # fmt: skip
                return
        await self.app(scope, receive, send)
