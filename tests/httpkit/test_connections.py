"""Connections that hold a server without sending a request are closed: one that sends
nothing, one that sends its headers a byte at a time. A normal keep-alive client is
unaffected. The containers run with a keep-alive timeout and a connection cap."""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlsplit

import asyncpg

from devtools.uvicorn import service_command
from tests.conftest import ROOT, PostgresUnderTest
from tests.servers import dockerfile_cmd, start, stop, wait_healthy

DEADLINE = 1.0


def closed_within(connection: socket.socket, seconds: float, drip: bytes = b"") -> float:
    """Seconds until the server closed the connection, sending `drip` a byte at a time."""
    started = time.monotonic()
    connection.settimeout(0.2)
    for byte in drip:
        try:
            connection.sendall(bytes([byte]))
        except OSError:
            return time.monotonic() - started
        try:
            if connection.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except OSError:  # reset: closed by the server too
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            break
    while time.monotonic() - started < seconds:
        try:
            if connection.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return float("inf")


def answer(connection: socket.socket) -> bytes:
    """One whole answer read from a keep-alive connection (headers and Content-Length body)."""
    connection.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(4096)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )  # fmt: skip
    while len(body) < length:
        body += connection.recv(4096)
    return received


def test_silent_and_slow_header_connections_are_closed_and_keep_alive_still_works(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    process, url = start(
        "cash_register",
        postgres.database_url,
        WEB_CONCURRENCY="1",
        HTTP_HEADER_TIMEOUT_SECONDS=str(DEADLINE),
    )
    try:
        wait_healthy(process, url)
        address = (urlsplit(url).hostname or "", urlsplit(url).port or 0)
        with socket.create_connection(address) as silent:
            assert closed_within(silent, 4 * DEADLINE) < 3 * DEADLINE
        slow = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"z" * 200
        with socket.create_connection(address) as dripping:
            assert closed_within(dripping, 4 * DEADLINE, slow) < 3 * DEADLINE
        with socket.create_connection(address) as client:
            for _ in range(2):  # two requests on one connection, a pause between them
                client.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert answer(client).startswith(b"HTTP/1.1 200")
                time.sleep(DEADLINE * 1.5)
    finally:
        stop(process)


def test_the_containers_run_with_a_keep_alive_timeout_and_a_connection_cap() -> None:
    for deployable in ("cash_register", "analytics"):
        command = dockerfile_cmd(deployable)
        assert command[command.index("--http") + 1] == "httpkit.connections:HeadersInTime"
        assert float(command[command.index("--timeout-keep-alive") + 1]) <= 15
        assert int(command[command.index("--limit-concurrency") + 1]) > 0


def test_nginx_closes_idle_connections_to_the_cash_registers_before_they_do() -> None:
    """Were nginx to keep an idle connection longer than the service, a sale sent on it just
    as the service closes it fails, and nginx may not send a POST elsewhere: a 503 for a
    till that had been quiet for exactly the service's keep-alive time."""
    template = (ROOT / "ops" / "nginx" / "cash-registers.conf.template").read_text()
    upstream = template[template.index("upstream cash_registers") :].split("\n    }", 1)[0]
    [nginx_seconds] = re.findall(r"keepalive_timeout (\d+)s;", upstream)
    for command in (dockerfile_cmd("cash_register"), service_command("x:app", 8000, 1)):
        service_seconds = float(command[command.index("--timeout-keep-alive") + 1])
        assert int(nginx_seconds) < service_seconds
