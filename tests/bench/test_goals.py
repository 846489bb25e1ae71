"""The results file: the latest figure of every goal first, a one-section run keeping the
other sections' figures, and `make bench`'s exit status following the goals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench import goals
from bench.goals import Section

ORDER = ["purchases", "topology", "analytics"]


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RESULTS", "HISTORY", "LATEST"):
        monkeypatch.setattr(goals, name, tmp_path / getattr(goals, name).name)
    return tmp_path


def section(name: str, *held: bool) -> Section:
    made = Section(name, f"\n## {name} report\n")
    for number, holds in enumerate(held):
        made.add(f"{name} goal {number}", f"{number}.0 ms", holds)
    return made


def test_the_latest_figures_come_first_and_a_partial_run_keeps_the_others(
    results: Path,
) -> None:
    goals.record([section("purchases", True), section("analytics", True, False)], ORDER)
    goals.record([section("purchases", False)], ORDER)

    text = (results / "results.md").read_text()
    table = text[text.index("## The latest figure") : text.index("## The latest run")]
    assert "| purchases | purchases goal 0 | 0.0 ms | **FAILS** |" in table
    assert "| analytics | analytics goal 1 | 1.0 ms | **FAILS** |" in table
    assert "| analytics | analytics goal 0 | 0.0 ms | holds |" in table
    assert "2 goals do not hold." in text
    assert text.index("## purchases report") < text.index("## analytics report")
    history = (results / "history.md").read_text()
    assert history.count("## purchases report") == 2


@pytest.mark.parametrize(("held", "status"), [((True, True), 0), ((True, False), 1)])
def test_make_bench_exits_0_exactly_when_every_goal_holds(
    results: Path, monkeypatch: pytest.MonkeyPatch, held: tuple[bool, bool], status: int
) -> None:
    monkeypatch.setattr(
        bench_main, "run_purchase_benchmark", lambda *_: section("purchases", *held)
    )
    monkeypatch.setattr(sys, "argv", ["bench", "--only", "purchases"])
    assert bench_main.main() == status
