"""Where nobody watches a terminal (Docker logs), the loader says what it is doing at least
every LOADER_PROGRESS_EVERY_SECONDS: the phase, rows done, rate and time left."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from loader.generate import generate
from tests.conftest import ROOT, PostgresUnderTest

STORED = re.compile(r"([\d,]+) of ([\d,]+) purchases stored \(([\d,]+)/s, about ([\d,]+) s left\)")


async def test_the_loader_reports_progress_when_its_output_is_not_a_terminal(
    db: asyncpg.Connection, postgres: PostgresUnderTest, tmp_path: Path
) -> None:
    generate(tmp_path, purchases=20_000, days=60, end=datetime(2026, 6, 30, tzinfo=UTC))
    started = time.monotonic()
    loaded = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "loader", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": postgres.database_url,
            "LOADER_CHUNK_PURCHASES": "1000",
            "LOADER_PROGRESS_EVERY_SECONDS": "0.05",
        },
        capture_output=True,  # a pipe, as Docker's log driver gives: not a terminal
        text=True,
        timeout=300,
    )
    took = time.monotonic() - started
    assert loaded.returncode == 0, loaded.stderr
    stored = [match.groups() for match in STORED.finditer(loaded.stdout)]
    assert stored, loaded.stdout
    done = [int(found[0].replace(",", "")) for found in stored]
    assert done == sorted(done)
    assert {found[1] for found in stored} == {"20,000"}
    assert "still " in loaded.stdout  # a phase that is one SQL statement says it still runs
    # No silence longer than the promise: the lines are many for the time the import took.
    assert len(stored) + loaded.stdout.count("still ") >= min(took / 0.5, 5)
    assert await db.fetchval("SELECT count(*) FROM purchases") == 20_000
