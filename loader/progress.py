"""Progress of the longest phase, storing: a line at least every few seconds, so an operator
reading Docker logs sees the import move (rows done, rate, time left)."""

from __future__ import annotations

import time

EVERY_SECONDS = 5.0


class StoringProgress:
    def __init__(self, total: int, every_seconds: float = EVERY_SECONDS) -> None:
        self.total = total
        self.every_seconds = every_seconds
        self.started = time.monotonic()
        self.last_shown = self.started
        self.shown_any = False

    def advance(self, chunks_done: int, chunks: int) -> None:
        """Called after each committed chunk; prints when `every_seconds` have passed."""
        now = time.monotonic()
        if now - self.last_shown < self.every_seconds or chunks_done == chunks:
            return
        self.last_shown = now
        done = self.total * chunks_done // max(chunks, 1)
        rate = done / (now - self.started)
        left = (self.total - done) / rate if rate else 0.0
        start = "" if self.shown_any else "\n"
        self.shown_any = True
        print(
            f"{start}    {done:,} of {self.total:,} purchases stored "
            f"({rate:,.0f}/s, about {left:,.0f} s left)",
            flush=True,
        )
