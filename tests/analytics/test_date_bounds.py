"""Any date a request can carry, from the first day of the calendar to its last: a date
outside the business days is a 422 naming its field, and no answer is a 5xx or takes longer
than its days cost (100 ms here for at most two years of days). Swept with hypothesis
against a real server, as a client would send them."""

from __future__ import annotations

import time
from datetime import date

import asyncpg
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.rules import FIRST_BUSINESS_DAY, LAST_BUSINESS_DAY
from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import start, stop, wait_healthy

DATED_VIEWS = (
    "/unique-customers",
    "/top-products",
    "/sales/daily",
    "/sales/daily-totals",
    "/sales/by-store",
)
ANSWER_WITHIN_SECONDS = 0.1
# The reported ones first: each took a connection for 5 s or answered a plain-text 500.
EDGES = [
    ("/sales/daily-totals", date(9999, 12, 31), date(9999, 12, 31)),
    ("/unique-customers", date(9999, 12, 1), date(9999, 12, 1)),
    ("/sales/by-store", date(9999, 1, 1), date(9999, 12, 31)),
    ("/sales/daily", date(1, 1, 1), date(1, 1, 1)),
]
any_day = st.dates(min_value=date.min, max_value=date.max)
business_day = st.dates(min_value=FIRST_BUSINESS_DAY, max_value=LAST_BUSINESS_DAY)


def ask(client: httpx.Client, path: str, first: date | None, last: date | None) -> None:
    params = {k: v.isoformat() for k, v in (("from", first), ("to", last)) if v is not None}
    started = time.perf_counter()
    response = client.get(path, params=params)
    took = time.perf_counter() - started
    assert response.status_code < 500, (path, params, response.text)
    outside = [
        name
        for name, day in params.items()
        if not FIRST_BUSINESS_DAY.isoformat() <= day <= LAST_BUSINESS_DAY.isoformat()
    ]
    if outside:
        assert response.status_code == 422, (path, params)
        assert response.json()["detail"].startswith(tuple(f"{n}:" for n in outside)), params
    assert took < ANSWER_WITHIN_SECONDS, (path, params, f"{took * 1000:.0f} ms")


def test_any_date_is_answered_quickly_and_never_with_a_5xx(
    seeded: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    process, url = start("analytics", postgres.database_url)
    try:
        wait_healthy(process, url)
        with httpx.Client(base_url=url, headers=keys.owner_headers(), timeout=10) as client:
            for path in DATED_VIEWS:  # the first answer of each view reads its caches
                client.get(path)
            for path, first, last in EDGES:
                ask(client, path, first, last)

            @settings(
                max_examples=150,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(
                path=st.sampled_from(DATED_VIEWS),
                first=st.none() | any_day | business_day,
                last=st.none() | any_day | business_day,
            )
            def sweep(path: str, first: date | None, last: date | None) -> None:
                ask(client, path, first, last)

            sweep()
    finally:
        stop(process)
