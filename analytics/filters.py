"""The filters owners put on their questions: one store, a date range (UTC days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from analytics.errors import InvalidFilter

MAX_RANGE_DAYS = 731
DEFAULT_DAILY_DAYS = 30


@dataclass(frozen=True)
class Filters:
    supermarket_id: str | None = None
    from_: date | None = None
    to: date | None = None

    @property
    def dated(self) -> bool:
        return self.from_ is not None


def check_filters(
    known_stores: frozenset[str],
    supermarket_id: str | None,
    from_: date | None,
    to: date | None,
    *,
    default_days: int | None = None,
) -> Filters:
    """Filters that make sense, or an `InvalidFilter` naming what does not.

    With `default_days`, a missing range means the last that many days up to today; without,
    a range needs both ends.
    """
    if supermarket_id is not None and supermarket_id not in known_stores:
        raise InvalidFilter(f"supermarket_id: unknown supermarket {supermarket_id!r}")
    if default_days is not None:
        to = to or datetime.now(UTC).date()
        if from_ is None:
            if to.toordinal() <= default_days:  # the range would start before year 1
                raise InvalidFilter(f"to: {to} leaves no room for the last {default_days} days")
            from_ = to - timedelta(days=default_days - 1)
    elif (from_ is None) != (to is None):
        raise InvalidFilter("from, to: give both ends of the date range, or neither")
    if from_ is not None and to is not None:
        if from_ > to:
            raise InvalidFilter(f"from: {from_} is after to: {to}")
        if (to - from_).days >= MAX_RANGE_DAYS:
            raise InvalidFilter(f"from, to: at most {MAX_RANGE_DAYS} days in one question")
    return Filters(supermarket_id, from_, to)
