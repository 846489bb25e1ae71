"""The chain's three CSV files: their names, their headers, and streaming them into COPY.

PostgreSQL parses the CSV (quotes, commas in `items_list`); here only the header is checked,
with or without a UTF-8 BOM, and the bytes are streamed with a progress display.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from loader.progress import every_seconds

CHUNK_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ChainFile:
    name: str
    columns: tuple[str, ...]
    staging_table: str
    staging_columns: tuple[str, ...]
    # Columns a file may add after its own, in this order (staged under the same names).
    optional: tuple[str, ...] = ()

    def headers(self) -> list[tuple[str, ...]]:
        """Every header the file may have."""
        return [self.columns + self.optional[:count] for count in range(len(self.optional) + 1)]


SUPERMARKETS = ChainFile(
    "supermarkets.csv", ("id",), "staged_supermarket", ("id",), optional=("time_zone",)
)
PRODUCTS = ChainFile(
    "products_list.csv",
    ("product_name", "unit_price"),
    "staged_product",
    ("product_name", "unit_price"),
)
PURCHASES = ChainFile(
    "purchases.csv",
    ("supermarket_id", "timestamp", "user_id", "items_list", "total_amount"),
    "staged_purchase",
    ("supermarket_id", "timestamp", "user_id", "items_list", "total_amount"),
)
CHAIN_FILES = (SUPERMARKETS, PRODUCTS, PURCHASES)


def _header(path: Path) -> tuple[str, ...]:
    with path.open("rb") as handle:
        first = handle.readline().removeprefix(BOM).decode("utf-8", "replace").strip()
    return tuple(name.strip() for name in first.split(",")) if first else ()


def header_problem(path: Path, chain_file: ChainFile) -> str | None:
    """Why the file cannot be loaded as `chain_file`, or None if its header is right."""
    if not path.is_file():
        return "file not found"
    found = _header(path)
    if found not in chain_file.headers():
        wanted = " or ".join(",".join(header) for header in chain_file.headers())
        return f"header must be {wanted}, found {','.join(found) or 'nothing'}"
    return None


class Progress:
    """One line per file, rewritten in place on a terminal."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.total = max(path.stat().st_size, 1)
        self.done = 0
        self.shown = -1
        self.live = sys.stdout.isatty()
        self.started = time.monotonic()
        self.last_line = self.started
        self.every = every_seconds()

    def advance(self, count: int) -> None:
        self.done += count
        percent = 100 * self.done // self.total
        if self.live and percent != self.shown:
            self.shown = percent
            print(f"\r  reading {self.name}: {percent:3d}%", end="", flush=True)
        elif not self.live and time.monotonic() - self.last_line >= self.every:
            self._line()

    def _line(self) -> None:
        """Where no terminal shows the percentage: bytes read, rate and time left."""
        now = time.monotonic()
        self.last_line = now
        rate = self.done / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0.0
        print(
            f"  reading {self.name}: {self.done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB "
            f"({rate / 1e6:,.1f} MB/s, about {left:,.0f} s left)",
            flush=True,
        )

    def finish(self) -> None:
        if self.live:
            print("\r", end="")
        print(f"  read {self.name}: {self.done / 1e6:.1f} MB", flush=True)


async def _chunks(path: Path, progress: Progress) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            progress.advance(len(chunk))
            yield chunk


async def copy_into_staging(
    connection: asyncpg.Connection, path: Path, chain_file: ChainFile
) -> None:
    """Stream the file into its staging table; PostgreSQL skips the header line."""
    progress = Progress(path)
    await connection.copy_to_table(
        chain_file.staging_table,
        source=_chunks(path, progress),
        columns=chain_file.staging_columns + _header(path)[len(chain_file.columns) :],
        format="csv",
        header=True,
        encoding="utf-8",
    )
    progress.finish()
