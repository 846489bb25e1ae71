"""The database's machines die while tills trade: Patroni fails over to the synchronous
standby, and no acknowledged sale is lost or stored twice.

The cluster is tests/ha.py's: two Patroni nodes, two cash registers connected to both behind
nginx. Eight tills post keyed sales and retry each until it is acknowledged; a node is killed
with SIGKILL, its agent and its PostgreSQL at once, as when its machine dies.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.ha import (
    RECOVERY_LIMIT_SECONDS,
    RETRYABLE,
    Topology,
    first_accepted_after,
    healthy,
    ready_facts,
    sample,
    stored_exactly_once,
    trade_through,
    until,
)

pytestmark = pytest.mark.cluster


async def test_killing_the_primary_loses_no_acknowledged_sale(ha_topology: Topology) -> None:
    primary = await healthy(ha_topology)
    trade, killed_at = await trade_through(ha_topology, primary.kill)
    recovered = first_accepted_after(trade, killed_at)
    assert recovered <= RECOVERY_LIMIT_SECONDS, f"sales accepted again after {recovered:.1f} s"
    assert set(trade.answers) <= {201, *RETRYABLE}, trade.answers
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
    trade, killed_at = await trade_through(ha_topology, current.kill)
    assert first_accepted_after(trade, killed_at) <= RECOVERY_LIMIT_SECONDS
    assert set(trade.answers) <= {201, *RETRYABLE}, trade.answers
    await stored_exactly_once(ha_topology, trade)
    assert database.primary() is down
    current.start()
    await asyncio.to_thread(database.wait_synchronous, 90)


async def test_killing_the_standby_lets_sales_go_on_and_it_rejoins(ha_topology: Topology) -> None:
    database = ha_topology.database
    await healthy(ha_topology)
    standby = database.standby()
    trade, _killed_at = await trade_through(ha_topology, standby.kill)
    assert set(trade.answers) <= {201, *RETRYABLE}, trade.answers
    await stored_exactly_once(ha_topology, trade)
    await until(lambda: sample(ha_topology, "sales_on_one_copy") == 1, 10, "no alert metric")
    assert sample(ha_topology, "sale_copies") == 1
    standby.start()
    await asyncio.to_thread(database.wait_synchronous, 90)
    await until(lambda: sample(ha_topology, "sale_copies") == 2, 10, "the standby never rejoined")
    assert ready_facts(ha_topology)["warnings"] == []
