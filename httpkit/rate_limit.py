"""Rate limits per key: 429 (with Retry-After) past a till's or an owner's requests per second
(a token bucket per key, bursts to twice the rate), per process; other keys are unaffected.

Pure ASGI, inside `Authentication` (it reads the request's credential).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from db.access_keys import Credential, Kind
from httpkit.problems import problem_type, refuse
from telemetry.metrics import instruments

TOO_MANY_REQUESTS = problem_type(
    "too-many-requests", 429, "Too many requests",
    "This till or owner sent more than its requests per second (TILL_REQUESTS_PER_SECOND, "
    "OWNER_REQUESTS_PER_SECOND); retry after Retry-After seconds.",
)  # fmt: skip


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """A token bucket per key, for the kinds of key given a rate (0 or absent: no limit)."""

    def __init__(self, app: ASGIApp, per_second: Mapping[Kind, float]) -> None:
        self.app = app
        self.per_second = {kind: rate for kind, rate in per_second.items() if rate > 0}
        self._buckets: dict[tuple[Kind, str], _Bucket] = {}
        metrics = instruments()
        self.refused = {"till": metrics.rate_limited, "owner": metrics.owners_rate_limited}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        credential = scope.get("credential")
        if isinstance(credential, Credential) and credential.kind in self.per_second:
            rate = self.per_second[credential.kind]
            wait = self._take(credential, rate)
            if wait > 0:
                self.refused[credential.kind].labels(credential.name).inc()
                await refuse(
                    scope, receive, send, TOO_MANY_REQUESTS,
                    f"{credential.kind} {credential.name} may send {rate:g} requests per second "
                    f"(bursts to {2 * rate:g})",
                    **{"Retry-After": str(math.ceil(wait))},
                )  # fmt: skip
                return
        await self.app(scope, receive, send)

    def _take(self, credential: Credential, rate: float) -> float:
        """Take a token from the key's bucket; 0, or the seconds until one is there."""
        now = time.monotonic()
        burst = 2 * rate
        bucket = self._buckets.setdefault((credential.kind, credential.name), _Bucket(burst, now))
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate
