"""An upload's body, parsed by orjson for speed, means what pydantic's own parser makes of
it: every sale of a good body checked to the same outcome (bodies orjson refuses and numbers
beyond 64 bits, which orjson reads as floats, included), the same errors for a bad one. A
body that is not JSON is refused whole, nothing of it stored."""

from __future__ import annotations

import asyncpg
import httpx
import orjson
import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from cash_register.offline_sync import envelope_of
from cash_register.schemas import UploadEnvelope, each_sale_on_its_own

SALE = b'{"client_purchase_id": "t-1", "supermarket_id": "SMKT002", "items": ["milk"]}'

GOOD = [
    b'{"purchases": [' + SALE + b"]}",
    b'{"purchases": [' + SALE + b", " + SALE + b"]}",
    b'{"purchases": [{"items": [{"product_id": "milk", "quantity": 123456789012345678901}]}]}',
    b'{"purchases": [{"client_purchase_id": 18446744073709551616, "items": ["milk"]}]}',
    b'{"purchases": [' + SALE[:-1] + b', "purchased_at": 123456789012345678901234567890}]}',
    b'{"purchases": [NaN, ' + SALE + b"]}",
    b'{"purchases": [1], "purchases": [' + SALE + b"]}",  # a key given twice: the last
    b'  {"purchases": ["caf\\u00e9"]}\n',
]
BAD = [
    b"",
    b"not json",
    b'{"purchases": [' + SALE,  # cut short
    b'{"purchases": [' + SALE + b"]} trailing",
    b'{"purchases": ["\\ud800"]}',  # a lone surrogate
    b'{"purchases": ["\xff"]}',  # not UTF-8
    b"[" + SALE + b"]",
    b"{}",
    b'{"purchases": []}',
    b'{"purchases": {"a": 1}}',
    b'{"purchases": [' + SALE + b'], "till": "t"}',
    b'{"purchases": [' + b", ".join([b"1"] * 1001) + b"]}",
]


def pydantic_reading(body: bytes) -> UploadEnvelope | list[object]:
    """What pydantic's JSON parser alone makes of `body`: the envelope, or its errors."""
    try:
        return UploadEnvelope.model_validate_json(body)
    except ValidationError as error:
        return list(error.errors(include_url=False))


@pytest.mark.parametrize("body", GOOD)
def test_a_good_body_gives_each_sale_the_outcome_pydantic_reads_in_it(body: bytes) -> None:
    expected = pydantic_reading(body)
    assert isinstance(expected, UploadEnvelope)
    checked = [each_sale_on_its_own(sale) for sale in envelope_of(body).purchases]
    assert checked == [each_sale_on_its_own(sale) for sale in expected.purchases]


@pytest.mark.parametrize("body", BAD)
def test_a_bad_body_gets_the_errors_pydantic_names(body: bytes) -> None:
    expected = pydantic_reading(body)
    assert isinstance(expected, list)
    assert expected
    with pytest.raises(RequestValidationError) as refused:
        envelope_of(body)
    assert list(refused.value.errors()) == expected


async def test_an_upload_cut_short_is_refused_whole(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    sales = [
        {"client_purchase_id": f"cut-{n}", "supermarket_id": "SMKT002", "items": ["milk"]}
        for n in range(50)
    ]
    body = orjson.dumps({"purchases": sales})
    headers = {"Content-Type": "application/json"}
    answer = await cash_register.post("/purchases", content=body[:-40], headers=headers)
    assert answer.status_code == 422
    assert answer.json()["errors"]
    stored = await catalog.fetchval(
        "SELECT count(*) FROM offline_sales WHERE client_purchase_id LIKE 'cut-%'"
    )
    assert stored == 0
