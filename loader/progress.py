"""Progress of the longest phase, storing: a line at least every few seconds, so an operator
reading Docker logs sees the import move (rows done, rate, time left)."""

from __future__ import annotations

import asyncio
import sys
import time

from loader.settings import loader_settings


def every_seconds() -> float:
    """How often a progress line is due (LOADER_PROGRESS_EVERY_SECONDS, default 5)."""
    return loader_settings().loader_progress_every_seconds


async def still_running(phase: str, started: float) -> None:
    """Until cancelled, when the output is not a terminal: a line every `every_seconds` that
    the phase (one SQL statement: no rows to count) is still running."""
    if sys.stdout.isatty():
        return
    while True:
        await asyncio.sleep(every_seconds())
        print(f"\n    still {phase}: {time.perf_counter() - started:,.0f} s", end="", flush=True)


class StoringProgress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.every_seconds = every_seconds()
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
