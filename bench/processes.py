"""CPU time of whole process trees, read from /proc (the topology's cost figures), and how
busy the whole machine was during a measurement (the purchases' tail).

A process's time is its own user + system time, plus what it collected from children it
reaped (cutime, cstime), plus that of its living descendants: so a PostgreSQL backend or an
nginx worker that comes and goes between two readings is still counted, by its parent.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from dataclasses import dataclass
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


# A 0.5 s interval this busy counts as saturated: the run queue, not the work, sets latency.
SATURATED_INTERVAL = 0.97
SAMPLE_SECONDS = 0.5


def _machine_ticks() -> tuple[int, int]:
    """Busy and all CPU ticks of the whole machine so far (/proc/stat's first line)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


@dataclass(frozen=True)
class MachineBusy:
    """How busy every core of the machine was during a measurement: on the whole, and in how
    many of its 0.5 s intervals nearly every core was (the tail's profile)."""

    busy_share: float
    saturated_intervals: float  # share of the intervals at SATURATED_INTERVAL or above
    busy_core_seconds: float


class MachineSampler:
    """Samples /proc/stat every SAMPLE_SECONDS while its `with` block runs."""

    def __init__(self) -> None:
        self._samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self._samples.append(_machine_ticks())
        while not self._stop.wait(SAMPLE_SECONDS):
            self._samples.append(_machine_ticks())

    def __enter__(self) -> MachineSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._samples.append(_machine_ticks())

    def result(self) -> MachineBusy:
        pairs = list(zip(self._samples, self._samples[1:], strict=False))
        shares = [(b[0] - a[0]) / max(1, b[1] - a[1]) for a, b in pairs]
        busy = self._samples[-1][0] - self._samples[0][0]
        every = self._samples[-1][1] - self._samples[0][1]
        return MachineBusy(
            busy_share=busy / max(1, every),
            saturated_intervals=sum(s >= SATURATED_INTERVAL for s in shares) / max(1, len(shares)),
            busy_core_seconds=busy / TICKS,
        )
