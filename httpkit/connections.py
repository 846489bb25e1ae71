"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn closes a connection that stays idle after an answer (`--timeout-keep-alive`), but not
one that connects and sends nothing, nor one that sends its headers a byte at a time: three
thousand such connections were held open for as long as their clients liked. Here a
connection must deliver each request's headers within HTTP_HEADER_TIMEOUT_SECONDS of its
opening or of the request's first byte, else it is closed. The images run uvicorn with
`--http httpkit.connections:HeadersInTime`, `--timeout-keep-alive` and `--limit-concurrency`
(a connection cap: past it, uvicorn answers 503). In production nginx fronts the cash
registers and adds its own timeouts (docs/operations.md).

An answer of known length also goes out in one write, its head with its body: uvicorn writes
them apart, two sends and two segments where one does, and a till's answer is small, so the
second send was most of what sending it cost (the hot path's profile had the two at a tenth
of a worker's time).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from httpkit.settings import http_settings


class HeadersInTime(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._header_seconds = http_settings().http_header_timeout_seconds

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        self.cycle.transport = HeadWithBody(self.transport, self.cycle)  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self._header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class HeadWithBody:
    """A request's view of its connection that holds the answer's head until its body, when
    the body's length is known (Content-Length, not HEAD), and writes both at once. Anything
    else passes straight through; closing, or the answer ending without a body, sends what
    is held first, so no head is ever lost or late behind a body it waits for."""

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._head_seen = False
        answered = cycle.on_response

        def on_response() -> None:
            self._send_held()
            answered()

        cycle.on_response = on_response

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._head_seen and self._cycle.response_started:
            self._head_seen = True  # the first write once the answer started is its head
            if self._body_follows():
                self._head = bytes(data)
                return
        self._transport.write(data)

    def _body_follows(self) -> bool:
        cycle = self._cycle
        return (
            cycle.chunked_encoding is False
            and cycle.expected_content_length > 0
            and cycle.scope["method"] != "HEAD"
        )

    def _send_held(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._send_held()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
