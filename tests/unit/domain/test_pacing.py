"""The pace of work with no deadline to the minute: a steady rate, small bursts, nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gql_api.domain.pacing import Pace

T0 = datetime(2027, 1, 4, tzinfo=UTC)


def test_at_first_one_may_go_and_then_what_accrues_at_the_rate():
    pace = Pace(per_second=0.5, burst=3)
    assert pace.available(T0) == 1
    pace.took(1)
    assert pace.available(T0) == 0
    assert pace.available(T0 + timedelta(seconds=4)) == 2


def test_asked_often_at_most_the_burst_goes_at_once():
    pace = Pace(per_second=0.5, burst=3)
    pace.available(T0)
    for second in range(2, 20, 2):
        assert pace.available(T0 + timedelta(seconds=second)) <= 3
    assert pace.available(T0 + timedelta(seconds=20)) == 3


def test_asked_seldom_what_accrued_meanwhile_goes_so_the_rate_holds():
    pace = Pace(per_second=0.5, burst=3)
    pace.available(T0)
    pace.took(1)
    assert pace.available(T0 + timedelta(seconds=60)) == 30


def test_a_burst_under_one_still_lets_one_go_at_a_time():
    pace = Pace(per_second=1 / 60, burst=0.1)
    pace.available(T0)
    pace.took(1)
    assert pace.available(T0 + timedelta(seconds=30)) == 0
    assert pace.available(T0 + timedelta(seconds=60)) == 1
    pace.took(1)
    assert pace.available(T0 + timedelta(seconds=90)) == 0


def test_a_new_rate_keeps_what_has_accrued():
    pace = Pace(per_second=1.0, burst=10)
    pace.available(T0)
    pace.took(1)
    assert pace.available(T0 + timedelta(seconds=5)) == 5
    pace.at_rate(0.1, burst_seconds=100)
    assert (pace.per_second, pace.burst) == (0.1, 10)
    assert pace.available(T0 + timedelta(seconds=15)) == 6


def test_taking_more_than_available_never_goes_below_nothing():
    pace = Pace(per_second=1.0, burst=2)
    pace.available(T0)
    pace.took(5)
    assert pace.available(T0 + timedelta(seconds=1)) == 1


def test_a_stall_does_not_become_a_burst_no_more_than_a_minutes_worth_goes_at_once():
    pace = Pace(per_second=0.5, burst=3)
    pace.available(T0)
    pace.took(1)
    assert pace.available(T0 + timedelta(hours=1)) == 30
