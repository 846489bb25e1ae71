"""The database's machines die while tills trade: Patroni fails over to the synchronous
standby, and no acknowledged sale is lost or stored twice.

The cluster is tests/ha.py's: two Patroni nodes, two cash registers connected to both behind
nginx. Eight tills post keyed sales and retry each until it is acknowledged; a node is killed
with SIGKILL, its agent and its PostgreSQL at once, as when its machine dies.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from devtools.till_drill import (
    RECOVERY_LIMIT_SECONDS,
    RETRYABLE,
    first_accepted_after,
    trade_through,
    until,
)
from tests.ha import Topology, healthy, ready_facts, sample, stored_exactly_once

pytestmark = pytest.mark.cluster


async def test_killing_the_primary_loses_no_acknowledged_sale(ha_topology: Topology) -> None:
    primary = await healthy(ha_topology)
    trade, killed_at = await trade_through(ha_topology.front.url, ha_topology.tills, primary.kill)
    recovered = first_accepted_after(trade, killed_at)
    assert recovered <= RECOVERY_LIMIT_SECONDS, f"sales accepted again after {recovered:.1f} s"
    assert set(trade.answers) <= {201, *RETRYABLE}, trade.unexpected or trade.answers
    await stored_exactly_once(ha_topology, trade)
    survivor = ha_topology.database.primary()
    assert survivor is not None
    assert survivor is not primary
    # Alone now: the sales of this moment are on one copy, and the service says so.
    await until(lambda: sample(ha_topology, "sales_on_one_copy") == 1, 10, "no alert metric")
    assert "sales are on one copy" in str(ready_facts(ha_topology)["warnings"])


async def test_old_primary_rejoins_and_a_failover_back_loses_nothing(
    ha_topology: Topology,
) -> None:
    database = ha_topology.database
    down = next(node for node in database.nodes if node.process is None or
                node.process.poll() is not None)  # fmt: skip
    down.start()
    await asyncio.to_thread(database.wait_synchronous, 90)
    assert database.synchronous_standby() is down, database.describe()
    await until(lambda: sample(ha_topology, "sales_on_one_copy") == 0, 10, "still on one copy")
    assert ready_facts(ha_topology)["sale_copies"] == 2
    current = database.primary()
    assert current is not None
    trade, killed_at = await trade_through(ha_topology.front.url, ha_topology.tills, current.kill)
    assert first_accepted_after(trade, killed_at) <= RECOVERY_LIMIT_SECONDS
    assert set(trade.answers) <= {201, *RETRYABLE}, trade.unexpected or trade.answers
    await stored_exactly_once(ha_topology, trade)
    assert database.primary() is down
    current.start()
    await asyncio.to_thread(database.wait_synchronous, 90)


async def test_killing_the_standby_lets_sales_go_on_and_it_rejoins(ha_topology: Topology) -> None:
    database = ha_topology.database
    await healthy(ha_topology)
    standby = database.standby()
    trade, _killed_at = await trade_through(ha_topology.front.url, ha_topology.tills, standby.kill)
    assert set(trade.answers) <= {201, *RETRYABLE}, trade.unexpected or trade.answers
    await stored_exactly_once(ha_topology, trade)
    await until(lambda: sample(ha_topology, "sales_on_one_copy") == 1, 10, "no alert metric")
    assert sample(ha_topology, "sale_copies") == 1
    standby.start()
    await asyncio.to_thread(database.wait_synchronous, 90)
    await until(lambda: sample(ha_topology, "sale_copies") == 2, 10, "the standby never rejoined")
    assert ready_facts(ha_topology)["warnings"] == []


async def upload_until_taken(
    client: httpx.AsyncClient, key: str, sales: list[dict[str, object]]
) -> tuple[dict[str, object], Counter[int]]:
    """A till's offline upload, sent again as it is until it is answered 200: after a 503
    or a broken connection at once, after a 429 when its Retry-After says."""
    answers: Counter[int] = Counter()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            answer = await client.post(
                "/purchases",
                json={"purchases": sales},
                headers={"Authorization": f"Bearer {key}"},
            )
        except httpx.TransportError:
            answers[0] += 1
            await asyncio.sleep(0.5)
            continue
        answers[answer.status_code] += 1
        if answer.status_code == 200:
            body: dict[str, object] = answer.json()
            return body, answers
        assert answer.status_code in {429, *RETRYABLE}, answer.text
        await asyncio.sleep(min(float(answer.headers.get("Retry-After", "1")), 5))
    raise AssertionError(f"the upload was never taken: {answers}")


async def test_an_offline_upload_cut_by_a_failover_completes_once_on_retry(
    ha_topology: Topology,
) -> None:
    primary = await healthy(ha_topology)
    key, store = ha_topology.tills[1]
    sold_at = datetime.now(UTC) - timedelta(hours=1)
    sales: list[dict[str, object]] = [
        {
            "client_purchase_id": f"offline-{secrets.token_hex(4)}-{n}",
            "supermarket_id": store,
            "items": ["milk", "bread"],
            "purchased_at": (sold_at + timedelta(seconds=n)).isoformat(),
        }
        for n in range(1000)
    ]
    async with httpx.AsyncClient(base_url=ha_topology.front.url, timeout=60) as client:
        uploading = asyncio.create_task(upload_until_taken(client, key, sales))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(primary.kill)
        body, answers = await uploading
    assert set(answers) <= {200, 429, *RETRYABLE}, answers
    outcomes = body["outcomes"]
    assert isinstance(outcomes, list)
    assert len(outcomes) == len(sales)
    assert {o["status"] for o in outcomes} <= {"created", "duplicate"}, outcomes[:3]
    connection = await asyncpg.connect(ha_topology.owner_url)
    try:
        stored = await connection.fetch(
            "SELECT client_purchase_id, count(*) AS times FROM offline_sales o "
            "JOIN purchases p ON p.id = o.purchase_id "
            "WHERE o.client_purchase_id = ANY($1::text[]) GROUP BY client_purchase_id",
            [sale["client_purchase_id"] for sale in sales],
        )
    finally:
        await connection.close()
    assert len(stored) == len(sales), f"{len(sales) - len(stored)} uploaded sales are missing"
    assert {row["times"] for row in stored} == {1}
    # Leave the cluster whole for the next test.
    primary.start()
    await healthy(ha_topology)
