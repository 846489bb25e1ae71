"""The filters owners put on their questions: one store, a date range (each store's local
days: a store's rollups are kept by its own time zone's dates)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from analytics.errors import InvalidFilter
from shop.rules import FIRST_BUSINESS_DAY, LAST_BUSINESS_DAY

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

    def days(self) -> tuple[date, date]:
        """The range's first and last day (a dated filter has both)."""
        if self.from_ is None or self.to is None:
            raise ValueError("not a dated filter")
        return self.from_, self.to


def check_filters(
    known_stores: frozenset[str],
    supermarket_id: str | None,
    from_: date | None,
    to: date | None,
    *,
    default_days: int | None = None,
    today: date | None = None,
) -> Filters:
    """Filters that make sense, or an `InvalidFilter` naming what does not.

    With `default_days`, a missing range means the last that many days up to `today` (the
    latest date among the stores in view, default UTC's); without, a range needs both ends.
    """
    if supermarket_id is not None and supermarket_id not in known_stores:
        raise InvalidFilter(f"supermarket_id: unknown supermarket {supermarket_id!r}")
    for name, day in (("from", from_), ("to", to)):
        if day is not None and not FIRST_BUSINESS_DAY <= day <= LAST_BUSINESS_DAY:
            raise InvalidFilter(
                f"{name}: {day} is outside the business days a question may name "
                f"({FIRST_BUSINESS_DAY} to {LAST_BUSINESS_DAY})"
            )
    if default_days is not None:
        to = to or today or datetime.now(UTC).date()
        if from_ is None:
            from_ = max(FIRST_BUSINESS_DAY, to - timedelta(days=default_days - 1))
    elif (from_ is None) != (to is None):
        raise InvalidFilter("from, to: give both ends of the date range, or neither")
    if from_ is not None and to is not None:
        if from_ > to:
            raise InvalidFilter(f"from: {from_} is after to: {to}")
        if (to - from_).days >= MAX_RANGE_DAYS:
            raise InvalidFilter(f"from, to: at most {MAX_RANGE_DAYS} days in one question")
    return Filters(supermarket_id, from_, to)


def today_in(zones: Iterable[str]) -> date:
    """Today's date in whichever of these zones is furthest ahead (UTC's with none)."""
    return max(
        (datetime.now(ZoneInfo(zone)).date() for zone in zones), default=datetime.now(UTC).date()
    )
