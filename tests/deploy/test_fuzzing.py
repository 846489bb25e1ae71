"""Both services' OpenAPI schemas fuzzed with schemathesis against real servers: whatever a
client sends, valid or not, the answer is never a 5xx."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import start, stop, wait_healthy

EXAMPLES_PER_OPERATION = 60


def fuzz(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], headers: dict[str, str]
) -> dict[int, int]:
    """Run generated requests, valid and invalid, against one operation; count the answers."""
    statuses: dict[int, int] = {}

    strategies = [
        *operation.get_strategies_from_examples(),  # the schema's examples: real sales
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    ]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call(timeout=10, headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=[not_a_server_error])

    run()
    return statuses


@pytest.mark.parametrize("service", ["cash_register", "analytics"])
def test_no_input_gets_a_server_error(
    service: str, seeded: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    """With a key, so the requests reach the routes: a till of the examples' store, an owner."""
    headers = keys.till_headers("SMKT001") if service == "cash_register" else keys.owner_headers()
    process, url = start(service, postgres.database_url)
    try:
        wait_healthy(process, url)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 3
        answers = {operation.label: fuzz(operation, headers) for operation in operations}
    finally:
        stop(process)
    assert sum(sum(statuses.values()) for statuses in answers.values()) >= EXAMPLES_PER_OPERATION
    if service == "cash_register":
        purchase = answers["POST /purchase"]
        assert purchase.get(201, 0) > 0, "valid purchases were generated and stored"
        assert purchase.get(422, 0) > 0, "invalid purchases were generated and refused"
