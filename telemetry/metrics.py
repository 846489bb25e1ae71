"""Prometheus metrics that stay right with several uvicorn workers.

prometheus-client's multiprocess mode: each worker writes its values to memory-mapped files in
one folder, and a scrape of any worker sums them all. The folder is PROMETHEUS_MULTIPROC_DIR
(the images set it, on their private /tmp); when unset, one per uvicorn supervisor (the
workers' parent) under the temporary folder. It must be known before prometheus-client is
first imported, so it is imported here, lazily, and nowhere else.

Every label set is bounded: routes are the app's route templates, statuses and causes are
few, reasons are problem types, tills are the tills issued keys.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Set with a folder this module chose itself, to the workers' owner: a child process started
# by another owner (a test starting servers) must not inherit that folder and mix its metrics.
CHOSEN_FOR = "SUPERMARKET_METRICS_DIR_CHOSEN_FOR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass(frozen=True)
class Instruments:
    requests: Any
    latency: Any
    purchases: Any
    rejections: Any
    batch_size: Any
    batch_slot_wait: Any
    sales_fold: Any
    pool_wait: Any
    pool_in_use: Any
    unavailable: Any
    catalog_reloads: Any
    authentication_failures: Any
    rate_limited: Any
    owners_rate_limited: Any
    replication_lag: Any
    replica_fallback: Any
    sale_copies: Any
    sales_on_one_copy: Any
    wal_archive_failures: Any
    last_backup_age: Any

    @classmethod
    def create(cls) -> Instruments:
        from prometheus_client import Counter, Gauge, Histogram

        def counter(name: str, text: str, labels: tuple[str, ...] = ()) -> Any:
            return Counter(name, text, labels, registry=None)

        def histogram(name: str, text: str, buckets: tuple[float, ...]) -> Any:
            return Histogram(name, text, buckets=buckets, registry=None)

        return cls(
            requests=counter(
                "http_requests_total", "HTTP requests answered", ("route", "method", "status")
            ),
            latency=Histogram(
                "http_request_duration_seconds",
                "Time from the request's arrival to its answer",
                ("route", "method"),
                buckets=LATENCY_BUCKETS,
                registry=None,
            ),
            purchases=counter(
                "purchases_total",
                "Sales tills sent: channel live or offline; outcome created, replayed, rejected",
                ("channel", "outcome"),
            ),
            rejections=counter(
                "purchase_rejections_total",
                "Sales refused, by channel and reason (the problem type)",
                ("channel", "reason"),
            ),
            batch_size=histogram(
                "purchase_batch_size", "Purchases committed in one transaction", BATCH_BUCKETS
            ),
            batch_slot_wait=histogram(
                "purchase_batch_slot_wait_seconds",
                "Time a full batch waited for a free commit slot",
                LATENCY_BUCKETS,
            ),
            sales_fold=histogram(
                "sales_fold_seconds",
                "Time a background fold of the waiting sales into the rollups took",
                LATENCY_BUCKETS,
            ),
            pool_wait=histogram(
                "db_pool_acquire_wait_seconds",
                "Time a request waited for a pooled database connection",
                LATENCY_BUCKETS,
            ),
            pool_in_use=Gauge(
                "db_pool_connections_in_use",
                "Pooled connections in use (sampled each second), all workers",
                multiprocess_mode="livesum",
                registry=None,
            ),
            unavailable=counter("http_unavailable_total", "503 answers, by cause", ("cause",)),
            catalog_reloads=counter("catalog_reloads_total", "Catalog reads after a change notice"),
            authentication_failures=counter(
                "authentication_failures_total",
                "Requests refused by authentication, by reason",
                ("reason",),
            ),
            rate_limited=counter("rate_limited_requests_total", "429 answers, by till", ("till",)),
            owners_rate_limited=counter(
                "rate_limited_owner_requests_total", "429 answers to owners, by owner", ("owner",)
            ),
            replication_lag=Gauge(
                "replication_lag_seconds",
                "How far the analytics' replica is behind the primary (measured each second)",
                multiprocess_mode="livemax",
                registry=None,
            ),
            replica_fallback=Gauge(
                "analytics_replica_fallback",
                "1 while the analytics read the primary because the replica is down or behind",
                multiprocess_mode="livemax",
                registry=None,
            ),
            sale_copies=Gauge(
                "sale_copies",
                "Copies of each sale when it is acknowledged: 1 + synchronous standbys streaming",
                multiprocess_mode="livemin",
                registry=None,
            ),
            sales_on_one_copy=Gauge(
                "sales_on_one_copy",
                "1 while the primary acknowledges sales alone though a standby is expected",
                multiprocess_mode="livemax",
                registry=None,
            ),
            wal_archive_failures=Gauge(
                "wal_archive_failures",
                "WAL segments the primary failed to archive since its statistics were reset",
                multiprocess_mode="livemax",
                registry=None,
            ),
            last_backup_age=Gauge(
                "last_backup_age_seconds",
                "Seconds since the last backup finished (recorded by python -m backup)",
                multiprocess_mode="livemin",
                registry=None,
            ),
        )


_instruments: Instruments | None = None


def _owner() -> str:
    """The set of workers this process belongs to: its supervisor (or itself alone)."""
    return str(os.getppid() if multiprocessing.parent_process() is not None else os.getpid())


def _folder(service: str) -> Path:
    """PROMETHEUS_MULTIPROC_DIR as given, else one folder per set of workers."""
    given = os.environ.get(MULTIPROC_DIR)
    chosen_for = os.environ.get(CHOSEN_FOR)
    if given and (chosen_for is None or chosen_for == _owner()):
        return Path(given)
    folder = Path(tempfile.gettempdir()) / "supermarket-metrics" / f"{service}-{_owner()}"
    os.environ[MULTIPROC_DIR] = str(folder)
    os.environ[CHOSEN_FOR] = _owner()
    return folder


def instruments(service: str = "service") -> Instruments:
    """This process's instruments, made on first use (which fixes the multiprocess folder)."""
    global _instruments
    if _instruments is None:
        _folder(service).mkdir(parents=True, exist_ok=True)
        _instruments = Instruments.create()
    return _instruments


def exposition() -> tuple[bytes, str]:
    """Every worker's metrics, summed, in Prometheus' text format."""
    instruments()
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_stopped() -> None:
    """This worker's live gauges no longer count (its counters keep their totals)."""
    if _instruments is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
