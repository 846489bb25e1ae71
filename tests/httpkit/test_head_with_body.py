"""An answer of known length leaves in one write, head and body together; an answer whose
body never comes (HEAD), one streamed in chunks and a request whose app fails still get
their heads, none late. Driven through uvicorn's own protocol code with the connection's
writes recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from uvicorn.server import ServerState

from httpkit.connections import HeadersInTime


class RecordedConnection(asyncio.Transport):
    """The server's side of a connection, keeping what the protocol writes, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _chunks() -> Any:
    yield b"one,"
    await asyncio.sleep(0)
    yield b"two"


async def _fails(request: Request) -> Response:
    raise RuntimeError("the app fails before answering")


async def _fails_midway(scope: Any, receive: Any, send: Any) -> None:
    """An app that starts an answer of 10 bytes and dies before its body."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"10")]})  # fmt: skip
    raise RuntimeError("the app fails after its head")


APP = Starlette(
    routes=[
        Route("/answer", lambda request: PlainTextResponse("receipt " * 20), methods=["GET"]),
        Route("/stream", lambda request: StreamingResponse(_chunks()), methods=["GET"]),
        Route("/fails", _fails, methods=["GET"]),
    ]
)
APP.mount("/midway", _fails_midway)


async def served(request: bytes) -> RecordedConnection:
    """`request` sent on a fresh connection to HeadersInTime; the connection once answered."""
    config = uvicorn.Config(APP, http=HeadersInTime, lifespan="off", log_level="critical")
    config.load()
    connection = RecordedConnection()
    protocol = HeadersInTime(config=config, server_state=ServerState(), app_state={})
    protocol.connection_made(connection)
    protocol.data_received(request)
    for _ in range(200):
        if connection.closed or (protocol.cycle is not None and protocol.cycle.response_complete):
            break
        await asyncio.sleep(0.005)
    protocol.connection_lost(None)
    return connection


async def test_an_answer_of_known_length_is_one_write() -> None:
    connection = await served(b"GET /answer HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    [written] = connection.writes
    head, _, body = written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-length: 160" in head.lower()
    assert body == b"receipt " * 20


async def test_a_head_request_gets_its_head_without_a_body() -> None:
    connection = await served(b"HEAD /answer HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    [written] = connection.writes
    assert written.startswith(b"HTTP/1.1 200")
    assert written.endswith(b"\r\n\r\n")


async def test_a_streamed_answer_sends_its_head_at_once_and_its_chunks_as_they_come() -> None:
    connection = await served(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head, *chunks = connection.writes
    assert head.startswith(b"HTTP/1.1 200")
    assert head.endswith(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"".join(chunks) == b"4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n"


async def test_a_failing_app_still_gets_its_500_out_whole() -> None:
    connection = await served(b"GET /fails HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    written = b"".join(connection.writes)
    assert written.startswith(b"HTTP/1.1 500")
    assert written.endswith(b"Internal Server Error")


async def test_an_app_failing_after_its_head_sends_the_head_and_closes() -> None:
    """What the client sees is what uvicorn alone gives it: the head, then the connection
    closed (the body it promised never comes)."""
    connection = await served(b"GET /midway/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    [written] = connection.writes
    assert written.startswith(b"HTTP/1.1 200")
    assert written.endswith(b"\r\n\r\n")
    assert connection.closed
