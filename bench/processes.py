"""CPU time of whole process trees, read from /proc (the topology's cost figures).

A process's time is its own user + system time, plus what it collected from children it
reaped (cutime, cstime), plus that of its living descendants: so a PostgreSQL backend or an
nginx worker that comes and goes between two readings is still counted, by its parent.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields after "pid (comm) "


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            found[int(fields[1])].append(int(entry.name))
    return found


def cpu_seconds(*roots: int) -> float:
    """User + system CPU seconds of each root and all its descendants, living or reaped."""
    children = _children()
    total_ticks = 0
    pending = list(roots)
    while pending:
        pid = pending.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of /proc/pid/stat (11-14 after comm).
        total_ticks += sum(int(value) for value in fields[11:15])
        pending += children.get(pid, [])
    return total_ticks / TICKS
