"""A client that goes away in the middle of sending its body is an ordinary event of a shop's
network (a till loses its Wi-Fi): one info line with the request's id, never an error-level
traceback, and nothing stored."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import output_of, start, stop, wait_healthy


@pytest.mark.parametrize("path", ["/purchase", "/purchases"])
def test_a_client_gone_mid_body_is_an_info_line_with_its_request_id(
    catalog: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest, path: str
) -> None:
    process, url = start("cash_register", postgres.database_url, WEB_CONCURRENCY="1")
    try:
        wait_healthy(process, url)
        address = urlsplit(url)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Authorization: Bearer {keys.tills['SMKT001']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 5000\r\n"
            "X-Request-ID: gone-mid-body\r\n\r\n"
        )
        with socket.create_connection((address.hostname, address.port)) as connection:
            connection.sendall(head.encode() + b'{"supermarket_id": "SMKT001", "items": [')
            time.sleep(0.3)
        deadline = time.monotonic() + 5
        while "gone-mid-body" not in output_of(process) and time.monotonic() < deadline:
            time.sleep(0.1)
        output = output_of(process)
    finally:
        stop(process)
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    ours = [line for line in lines if line.get("request_id") == "gone-mid-body"]
    assert any(line["level"] == "info" and "went away" in line["message"] for line in ours), ours
    assert "Traceback" not in output
    assert not [line for line in lines if line["level"] in ("error", "critical")], output
