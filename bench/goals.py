"""Each section's goals, the figure measured against each, and the results file built from
the latest run of every section.

`bench/results.md` starts with one table: every goal in force, its latest figure, whether it
holds, and the date and commit of the run that measured it. A run of one section (`--only`)
replaces that section's rows and keeps the others' (`bench/latest.json` holds them). Below
the table come the latest run's report of each section. Every run's reports are also appended
to `bench/history.md`, the log of all runs.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.environment import ROOT, now

RESULTS = ROOT / "bench" / "results.md"
HISTORY = ROOT / "bench" / "history.md"
LATEST = ROOT / "bench" / "latest.json"


@dataclass(frozen=True)
class Goal:
    """One goal in force: what must hold, what was measured, whether it held."""

    goal: str
    figure: str
    holds: bool


@dataclass
class Section:
    """One section's run: its report and its goals."""

    name: str
    report: str
    goals: list[Goal] = field(default_factory=list)
    date: str = field(default_factory=now)
    commit: str = field(default_factory=lambda: current_commit())

    def add(self, goal: str, figure: str, holds: bool) -> None:
        self.goals.append(Goal(goal, figure, holds))

    @property
    def holds(self) -> bool:
        return all(goal.holds for goal in self.goals)


def current_commit() -> str:
    """The commit measured, with `+` when the work tree had changes."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return f"{commit or 'unknown'}{'+' if dirty else ''}"


def verdict(holds: bool) -> str:
    return "holds" if holds else "**FAILS**"


def verdicts(goals: list[Goal]) -> str:
    """A section report's own table of its goals."""
    rows = "\n".join(f"| {g.goal} | {g.figure} | {verdict(g.holds)} |" for g in goals)
    return "| goal | figure | |\n|---|---|---|\n" + rows + "\n"


def goals_table(sections: list[Section]) -> str:
    rows = "\n".join(
        f"| {section.name} | {goal.goal} | {goal.figure} | {verdict(goal.holds)} | "
        f"{section.date} | `{section.commit}` |"
        for section in sections
        for goal in section.goals
    )
    return (
        "| section | goal | latest figure | | measured | commit |\n"
        "|---|---|---|---|---|---|\n" + rows + "\n"
    )


def record(sections: list[Section], order: list[str]) -> list[Section]:
    """Write this run into the results, the latest figures and the history; return every
    section's latest run (this run's, else the one before), in `order`."""
    latest = _read_latest()
    for section in sections:
        latest[section.name] = section
    ordered = [latest[name] for name in order if name in latest]
    LATEST.write_text(
        json.dumps(
            {s.name: {**asdict(s), "goals": [asdict(g) for g in s.goals]} for s in ordered},
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    RESULTS.write_text(_results(ordered))
    with HISTORY.open("a", encoding="utf-8") as history:
        for section in sections:
            history.write(section.report)
    return ordered


def _read_latest() -> dict[str, Section]:
    """Every section's latest run, as the last `record` wrote it."""
    if not LATEST.exists():
        return {}
    stored: dict[str, dict[str, Any]] = json.loads(LATEST.read_text())
    return {
        name: Section(
            name=name,
            report=data["report"],
            goals=[Goal(**goal) for goal in data["goals"]],
            date=data["date"],
            commit=data["commit"],
        )
        for name, data in stored.items()
    }


def _results(sections: list[Section]) -> str:
    failing = sum(not goal.holds for section in sections for goal in section.goals)
    state = (
        "Every goal holds."
        if not failing
        else f"{failing} goal{'s' * (failing > 1)} do{'es' * (failing == 1)} not hold."
    )
    return f"""# Benchmark results

Written by `make bench` (`python -m bench`); do not edit by hand. Every goal is a ratio or a
bound measured within one run on one machine, where PostgreSQL, the services and the load
share the cores. `make bench` exits 0 exactly when every goal of the sections it ran holds.
The reports of every run, this one's included, are in [history.md](history.md).

## The latest figure of every goal

{state}

{goals_table(sections)}
## The latest run of each section
{"".join(section.report for section in sections)}"""
