"""The cash register's background folds during a measurement, read off its own metrics: how
many ran, how long they took, and what share of the measurement they filled. A fold takes a
core of the database for tens of milliseconds, and the tills' slowest sales are those that
overlap one, so this is the profile beside the tail figures."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx

# The service's /metrics answers only this key, made afresh for each bench run.
METRICS_KEY = secrets.token_urlsafe(24)


@dataclass(frozen=True)
class FoldCount:
    """The `sales_fold_seconds` histogram's count and sum, summed over the workers."""

    folds: float
    seconds: float

    def __sub__(self, earlier: FoldCount) -> FoldCount:
        return FoldCount(self.folds - earlier.folds, self.seconds - earlier.seconds)


def folds_so_far(url: str) -> FoldCount:
    """The folds every worker of the cash register at `url` has run since it started."""
    answer = httpx.get(
        f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}, timeout=10
    )
    answer.raise_for_status()
    values = {"sales_fold_seconds_count": 0.0, "sales_fold_seconds_sum": 0.0}
    for line in answer.text.splitlines():
        name, _, value = line.partition(" ")
        if name in values:
            values[name] += float(value)
    return FoldCount(values["sales_fold_seconds_count"], values["sales_fold_seconds_sum"])


def fold_profile(folds: FoldCount, seconds: float) -> str:
    """`folds` over a measurement of `seconds`, in words for the report."""
    if not folds.folds:
        return "no fold ran"
    mean_ms = 1000 * folds.seconds / folds.folds
    share = folds.seconds / seconds
    return (
        f"{folds.folds:.0f} folds, {mean_ms:.1f} ms each on average, {100 * share:.0f}% of the run"
    )
