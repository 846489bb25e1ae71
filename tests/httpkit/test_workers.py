"""The services' worker processes (httpkit/workers.py), as the images run them: the
connections spread over the workers, a dead worker replaced, nothing left behind."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from tests.conftest import PostgresUnderTest
from tests.servers import start, stop, wait_healthy

# Keep-alive connections a router or a load test opens at once.
CONNECTIONS = 40


def workers_of(supervisor: int) -> list[int]:
    """The supervisor's worker processes (multiprocessing's spawned children)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def listening(port: int) -> int:
    """How many sockets listen on `port` (/proc/net/tcp, state 0A)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for row in rows if int(row[1].split(":")[1], 16) == port and row[3] == "0A")


def all_listening(port: int, workers: int) -> None:
    """Until every worker listens: /readyz is answered by whichever started first."""
    deadline = time.monotonic() + 30
    while listening(port) < workers:
        assert time.monotonic() < deadline, f"{listening(port)} of {workers} workers listen"
        time.sleep(0.1)


def server_side_inode(server_port: int, client_port: int) -> str:
    """The inode of the server's end of the connection from `client_port` (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return inode
    raise AssertionError(f"no server side for the connection from port {client_port}")


def served(client: socket.socket) -> None:
    """One request on the connection, answered: by then a worker has accepted it."""
    client.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = client.recv(4096)
        assert chunk, "the connection closed before its answer"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200")


@contextmanager
def connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    opened = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    try:
        yield opened
    finally:
        for client in opened:
            client.close()


def test_connections_opened_at_once_are_spread_over_the_workers(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    """With one shared socket, the worker that woke first accepted nearly all of them and
    kept them for as long as they lived, serving them on one core."""
    process, url = start("cash_register", postgres.database_url, WEB_CONCURRENCY="2")
    try:
        wait_healthy(process, url)
        port = urlsplit(url).port or 0
        workers = workers_of(process.pid)
        assert len(workers) == 2
        all_listening(port, 2)
        with connections(port, CONNECTIONS) as opened:
            for client in opened:
                served(client)
            inodes = {pid: _socket_inodes(pid) for pid in workers}
            owners: Counter[int] = Counter()
            for client in opened:
                inode = server_side_inode(port, client.getsockname()[1])
                [owner] = [pid for pid in workers if inode in inodes[pid]]
                owners[owner] += 1
        assert set(owners) == set(workers), owners
        assert max(owners.values()) <= 0.75 * CONNECTIONS, owners
    finally:
        assert stop(process) == 0


def test_a_worker_that_dies_is_replaced_and_the_others_keep_serving(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    process, url = start("cash_register", postgres.database_url, WEB_CONCURRENCY="2")
    try:
        wait_healthy(process, url)
        first, second = workers_of(process.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            now = workers_of(process.pid)
            if len(now) == 2 and first not in now:
                break
            assert time.monotonic() < deadline, f"no worker replaced {first}: {now}"
            time.sleep(0.2)
        assert second in now
        wait_healthy(process, url)
        for _ in range(10):  # new connections, whichever worker they reach
            assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    finally:
        assert stop(process) == 0
    assert not Path(f"/proc/{second}").exists()


def test_the_workers_die_with_their_supervisor_and_free_the_port(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    """Killed outright (SIGKILL: no chance to stop them), the supervisor still leaves no
    worker behind holding the port."""
    process, url = start("cash_register", postgres.database_url, WEB_CONCURRENCY="2")
    wait_healthy(process, url)
    workers = workers_of(process.pid)
    process.kill()
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its supervisor"
        time.sleep(0.1)
    with socket.socket() as taker:  # no SO_REUSEPORT: fails while anyone listens there
        taker.bind(("127.0.0.1", urlsplit(url).port or 0))
