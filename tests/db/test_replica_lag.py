"""How a replica's lag is read from one `REPLICA_LAG` answer (db/replica.py `measured`): the
cases a live pair cannot be steered into on demand (an hour-long quiet spell, a standby that
has replayed nothing). The live cases run against a real standby in tests/cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.replica import measured

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


def _row(*, standby: bool = True, caught_up: bool, replayed_ago: float | None) -> dict[str, object]:
    replayed = None if replayed_ago is None else NOW - timedelta(seconds=replayed_ago)
    return {"standby": standby, "checked_at": NOW, "replayed_at": replayed, "caught_up": caught_up}


def test_a_replica_that_replayed_all_it_received_has_no_lag_and_is_current() -> None:
    state = measured(_row(caught_up=True, replayed_ago=3600), 10, None)
    assert (state.lag_seconds, state.as_of, state.usable) == (0.0, NOW, True)


def test_a_primary_given_as_the_replica_is_current() -> None:
    state = measured(_row(standby=False, caught_up=False, replayed_ago=None), 10, None)
    assert (state.lag_seconds, state.usable) == (0.0, True)


def test_behind_it_is_as_of_its_last_replayed_commit() -> None:
    state = measured(_row(caught_up=False, replayed_ago=4), 10, None)
    assert (state.lag_seconds, state.usable) == (4.0, True)
    too_far = measured(_row(caught_up=False, replayed_ago=12.5), 10, None)
    assert too_far.lag_seconds == 12.5
    assert not too_far.usable
    assert "12.5 s behind (limit 10 s)" in (too_far.problem or "")


def test_after_a_quiet_hour_the_first_sale_does_not_make_it_an_hour_behind() -> None:
    seen_caught_up = NOW - timedelta(seconds=0.5)
    state = measured(_row(caught_up=False, replayed_ago=3600), 10, seen_caught_up)
    assert state.lag_seconds == 0.5
    assert state.as_of == seen_caught_up
    assert state.usable


def test_a_restarted_replica_that_replayed_nothing_is_not_used() -> None:
    state = measured(_row(caught_up=False, replayed_ago=None), 10, None)
    assert state.lag_seconds is None
    assert not state.usable
