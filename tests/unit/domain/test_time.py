"""Time as the domain keeps it: instants in UTC, whole seconds where calendars store them."""

from datetime import UTC, datetime, timedelta, timezone

from gql_api.domain.time import utc_now, whole_seconds


def test_whole_seconds_drops_the_fraction():
    moment = datetime(2026, 11, 24, 9, 30, 15, 999_999, tzinfo=UTC)

    assert whole_seconds(moment) == datetime(2026, 11, 24, 9, 30, 15, tzinfo=UTC)


def test_whole_seconds_are_in_utc():
    moment = datetime(2026, 11, 24, 1, 0, tzinfo=timezone(timedelta(hours=-8)))

    kept = whole_seconds(moment)

    assert kept == moment
    assert (kept.tzinfo, kept.hour) == (UTC, 9)


def test_now_is_an_instant_in_utc():
    assert utc_now().tzinfo is UTC
