"""What operators see of a service: every request counted and timed, an access line per
request, /metrics for Prometheus, and the probes an orchestrator asks.

    /livez    the process and its event loop answer; never touches the database (restart a
              service only when this fails)
    /readyz   the database answers, what the service holds in memory is loaded, and it is
              not shutting down (send it traffic only while this succeeds)
    /health   as before: the database answers
    /metrics  Prometheus text, all workers summed; `Authorization: Bearer <METRICS_KEY>`
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from fastapi import APIRouter, HTTPException, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.chores import PeriodicChore
from db.durability import Durability, DurabilityWatch
from db.errors import DatabaseUnavailable
from db.health import check_database
from db.pool import pool_watch
from db.replica import Reads, ReplicaReads, ReplicaState
from db.snapshot import NotifiedSnapshot
from httpkit.problems import PROBLEM, Problem
from telemetry.logs import access_line
from telemetry.metrics import Instruments, exposition, instruments
from telemetry.settings import telemetry_settings


@dataclass(frozen=True)
class Ready:
    """Why a service is not ready now, in words (empty: ready), and what else /readyz tells
    (the analytics: where they read and how far behind that is)."""

    reasons: list[str]
    facts: dict[str, Any] = field(default_factory=dict)


Readiness = Callable[[Request], Awaitable[Ready]]


async def ready_when(
    pool: asyncpg.Pool, loaded: dict[str, NotifiedSnapshot[Any]], closing: bool
) -> list[str]:
    """Why a service is not ready: the database, a snapshot not read yet, shutting down."""
    reasons = []
    try:
        await check_database(pool)
    except DatabaseUnavailable as error:
        reasons.append(f"database: {error.explanation}")
    reasons += [f"{name} not loaded yet" for name, held in loaded.items() if not held.loaded]
    if closing:
        reasons.append("shutting down")
    return reasons


def watch_the_database(metrics: Instruments, *snapshots: NotifiedSnapshot[Any]) -> None:
    """Feed the pool's waits and use, and each snapshot's reloads, to the metrics."""
    pool_watch.waited = metrics.pool_wait.observe
    for snapshot in snapshots:
        snapshot.on_reload = metrics.catalog_reloads.inc


def watch_the_replica(metrics: Instruments, reads: Reads) -> None:
    """Feed each measure of the replica's lag, and whether reads fell back, to the metrics."""
    if not isinstance(reads, ReplicaReads):
        return

    def checked(state: ReplicaState) -> None:
        if state.lag_seconds is not None:
            metrics.replication_lag.set(state.lag_seconds)
        metrics.replica_fallback.set(0 if state.usable else 1)

    reads.on_check = checked


def watch_durability(metrics: Instruments, watch: DurabilityWatch) -> None:
    """Feed each reading of the sales' copies, archiving and backups to the metrics."""

    def read(reading: Durability) -> None:
        metrics.sale_copies.set(reading.copies)
        metrics.sales_on_one_copy.set(1 if reading.on_one_copy else 0)
        metrics.wal_archive_failures.set(reading.archive_failures)
        age = reading.backup_age_seconds
        # No backup at all is the oldest backup there is: the alert must fire for it too.
        metrics.last_backup_age.set(float("inf") if age is None else age)

    watch.on_reading = read


def pool_in_use(pool: asyncpg.Pool, every_seconds: float = 1.0) -> PeriodicChore:
    """The pool's connections in use, sampled every second (a gauge set on each request
    would cost two writes per request for a figure nobody reads more often)."""
    gauge = instruments().pool_in_use

    async def sample() -> None:
        gauge.set(pool.get_size() - pool.get_idle_size())

    return PeriodicChore("pool-in-use", every_seconds, sample)


def route_of(scope: Scope) -> str:
    """The route template that answered (bounded), never the raw path (unbounded)."""
    route = scope.get("route")
    template = getattr(route, "path", None) or scope.get("route_template")
    return template or "unmatched"


class Observing:
    """Counts, times and logs every request; just inside `RequestIds`, so every answer (a 401,
    a 413) is seen, with its request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.metrics = instruments()
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route, method = route_of(scope), scope["method"]
        counted = self._children.get((route, method, status))
        if counted is None:  # labels() validates and locks: once per label set, not each time
            counted = (
                self.metrics.requests.labels(route, method, str(status)),
                self.metrics.latency.labels(route, method),
            )
            self._children[(route, method, status)] = counted
        counted[0].inc()
        counted[1].observe(seconds)
        access_line(method, route, status, round(seconds * 1000, 2))


def operations_router(readiness: Readiness) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/livez", summary="Liveness")
    async def livez() -> dict[str, str]:
        """The process and its event loop answer. Never asks the database: a database outage
        is not a reason to restart a service."""
        return {"status": "alive"}

    @router.get("/readyz", summary="Readiness", responses={503: PROBLEM})
    async def readyz(request: Request) -> Any:
        """Ready for traffic: the database answers, the catalog and keys are loaded, and the
        service is not shutting down; else 503 naming each reason. The analytics add where
        they read (`reads_from`) and, with a replica, `replication_lag_seconds`."""
        ready = await readiness(request)
        if ready.reasons:
            raise NotReady(ready.reasons, ready.facts)
        return {"status": "ready", **ready.facts}

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        key = telemetry_settings().metrics_key
        if key is None:
            raise HTTPException(404, "metrics are off: set METRICS_KEY to serve them")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
            raise HTTPException(
                401, "send METRICS_KEY as Authorization: Bearer", {"WWW-Authenticate": "Bearer"}
            )
        body, media_type = exposition()
        return Response(body, media_type=media_type)

    return router


class NotReady(Problem):
    """The service cannot take traffic now (`reasons` says why); another instance may."""

    status = 503
    title = "Not ready"

    def __init__(self, reasons: list[str], facts: dict[str, Any] | None = None) -> None:
        super().__init__("; ".join(reasons), cause="not_ready", reasons=reasons, **(facts or {}))
