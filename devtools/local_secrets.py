"""Secrets for running the system on this machine (make demo, make bench): made once, kept
in a file only its owner can read, never in the repository (`.data/` is git-ignored)."""

from __future__ import annotations

import secrets
from pathlib import Path


def kept_secret(path: Path) -> Path:
    """`path`, holding a fresh random secret if it did not exist: the same one on every run,
    so, say, the loyalty cards of an earlier demo still find their customers."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path
