"""The tills' rate limit: 429 (with Retry-After) past a till's requests per second (a token
bucket per till, bursts to twice the rate), per process; other tills are unaffected.

Pure ASGI, inside `Authentication` (it reads the request's credential).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from db.access_keys import Credential
from httpkit.problems import problem_type, refuse
from telemetry.metrics import instruments

TOO_MANY_REQUESTS = problem_type(
    "too-many-requests", 429, "Too many requests",
    "This till sent more than TILL_REQUESTS_PER_SECOND; retry after Retry-After seconds.",
)  # fmt: skip


@dataclass
class _Bucket:
    tokens: float
    at: float


class TillRateLimit:
    def __init__(self, app: ASGIApp, per_second: float) -> None:
        self.app = app
        self.per_second = per_second
        self.burst = 2 * per_second
        self._buckets: dict[str, _Bucket] = {}
        self.refused = instruments().rate_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        credential = scope.get("credential")
        if isinstance(credential, Credential) and credential.kind == "till":
            wait = self._take(credential.name)
            if wait > 0:
                self.refused.labels(credential.name).inc()
                await refuse(
                    scope, receive, send, TOO_MANY_REQUESTS,
                    f"till {credential.name} may send {self.per_second:g} requests per second "
                    f"(bursts to {self.burst:g})",
                    **{"Retry-After": str(math.ceil(wait))},
                )  # fmt: skip
                return
        await self.app(scope, receive, send)

    def _take(self, till: str) -> float:
        """Take a token from the till's bucket; 0, or the seconds until one is there."""
        now = time.monotonic()
        bucket = self._buckets.setdefault(till, _Bucket(self.burst, now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_second
