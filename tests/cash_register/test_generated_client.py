"""A till developer's view of the contract: a Python client generated from the cash
register's OpenAPI by a registry code generator (openapi-python-client) records a sale."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import start, stop, wait_healthy

PACKAGE = "till_api_client"


@pytest.fixture
def cash_register_server(keys: ChainKeys, postgres: PostgresUnderTest) -> Iterator[str]:
    process, url = start("cash_register", postgres.database_url)
    try:
        wait_healthy(process, url)
        yield url
    finally:
        stop(process)


def generate_client(spec: dict[str, object], folder: Path) -> None:
    (folder / "openapi.json").write_text(json.dumps(spec))
    (folder / "config.json").write_text(json.dumps({"package_name_override": PACKAGE}))
    subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path", str(folder / "openapi.json"),
            "--config", str(folder / "config.json"),
            "--meta", "none",
            "--output-path", str(folder / PACKAGE),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    sys.path.insert(0, str(folder))


def test_a_generated_client_reads_the_catalog_and_records_a_sale_once(
    cash_register_server: str, keys: ChainKeys, tmp_path: Path
) -> None:
    import httpx

    spec = httpx.get(f"{cash_register_server}/openapi.json").json()
    generate_client(spec, tmp_path)
    try:
        client_module = importlib.import_module(PACKAGE)
        get_catalog = importlib.import_module(f"{PACKAGE}.api.default.get_catalog")
        record = importlib.import_module(f"{PACKAGE}.api.default.record_purchase")
        take_back = importlib.import_module(f"{PACKAGE}.api.default.record_refund")
        models = importlib.import_module(f"{PACKAGE}.models")
    finally:
        sys.path.remove(str(tmp_path))

    client = client_module.AuthenticatedClient(
        base_url=cash_register_server, token=keys.tills["SMKT003"]
    )
    with client as till:
        prices = get_catalog.sync(client=till)
        names = [product.name for product in prices.products]
        basket = models.PurchaseRequest(supermarket_id="SMKT003", items=names[:2])
        first = record.sync_detailed(client=till, body=basket, idempotency_key="gen-0001")
        again = record.sync_detailed(client=till, body=basket, idempotency_key="gen-0001")
        other = models.PurchaseRequest(supermarket_id="SMKT003", items=["caviar"])
        refused = record.sync_detailed(client=till, body=other, idempotency_key="gen-0002")
        refund = models.RefundRequest(
            purchase_id=first.parsed.purchase_id,
            lines=[models.RefundLine(product=names[0], quantity=1)],
            reason=models.RefundRequestReason.RETURNED,
        )
        refunded = take_back.sync_detailed(client=till, body=refund, idempotency_key="gen-r-1")

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert first.parsed.purchase_id == again.parsed.purchase_id
    # Money travels as decimal strings, never floats; the client keeps them so.
    expected = sum(Decimal(p.unit_price) for p in prices.products if p.name in names[:2])
    assert Decimal(first.parsed.total_amount) == expected
    assert refused.status_code == 422
    assert json.loads(refused.content)["type"] == "/problems/unknown-product"
    assert refunded.status_code == 201
    price = next(Decimal(p.unit_price) for p in prices.products if p.name == names[0])
    assert Decimal(refunded.parsed.total_amount) == price
