"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn closes a connection that stays idle after an answer (`--timeout-keep-alive`), but not
one that connects and sends nothing, nor one that sends its headers a byte at a time: three
thousand such connections were held open for as long as their clients liked. Here a
connection must deliver each request's headers within HTTP_HEADER_TIMEOUT_SECONDS of its
opening or of the request's first byte, else it is closed. The images run uvicorn with
`--http httpkit.connections:HeadersInTime`, `--timeout-keep-alive` and `--limit-concurrency`
(a connection cap: past it, uvicorn answers 503). In production nginx fronts the cash
registers and adds its own timeouts (docs/operations.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
