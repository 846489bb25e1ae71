"""`python -m admin` as an operator runs it, and the tests' own reading of a till's chain: the
export, checked with hashlib alone."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT


def admin(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m admin ...` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "admin", *arguments],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def exported(database_url: str, till: str) -> list[dict[str, Any]]:
    done = admin(database_url, "export-ledger", "--till", till)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def check_with_hashlib(till: str, entries: list[dict[str, Any]]) -> None:
    """What anyone can do with the export: recompute every hash from the canonical strings."""
    previous = hashlib.sha256(till.encode("utf-8")).digest()
    for number, entry in enumerate(entries, start=1):
        assert entry["receipt_number"] == number
        assert entry["previous_hash"] == previous.hex()
        digest = hashlib.sha256(previous + entry["canonical"].encode("utf-8")).digest()
        assert digest.hex() == entry["entry_hash"], f"receipt {number} does not hold"
        previous = digest
