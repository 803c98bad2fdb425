"""Reading meetings back: one meeting for its participants, pages by start time for each of them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_api.domain.errors import BadArgument
from gql_api.domain.meetings import MeetingStatus
from tests.support.fakes import ALICE, BOB, MALLORY, START, ids, schedule, services


async def five_meetings(app):
    """Alice's meetings with Bob, an hour apart, scheduled out of order."""
    made = {}
    for hours in (3, 0, 4, 1, 2):
        start = START + timedelta(hours=hours)
        made[hours] = await schedule(app, ALICE, BOB, start=start, end=start + timedelta(minutes=30))
    return [made[hours] for hours in sorted(made)]


async def test_pages_follow_the_start_time_and_say_whether_more_follow():
    # given
    app = services()
    meetings = await five_meetings(app)

    # when Bob reads them two at a time
    pages = []
    after = None
    while True:
        page = await app.meetings.page(BOB, first=2, after=after, status=None, ends_from=None, starts_before=None)
        pages.append((ids(page.meetings), page.has_next_page))
        if not page.has_next_page:
            break
        after = (page.meetings[-1].start, page.meetings[-1].id)

    # then
    assert pages == [(ids(meetings[:2]), True), (ids(meetings[2:4]), True), (ids(meetings[4:]), False)]


async def test_filters_narrow_the_page_and_strangers_see_nothing():
    # given
    app = services()
    meetings = await five_meetings(app)
    await app.meetings.cancel(ALICE, meetings[2].id)

    # when
    window = await app.meetings.page(
        ALICE,
        first=None,
        after=None,
        status=MeetingStatus.SCHEDULED,
        ends_from=meetings[1].end,
        starts_before=meetings[4].start,
    )
    strangers = await app.meetings.page(MALLORY, first=10, after=None, status=None, ends_from=None, starts_before=None)

    # then
    assert ids(window.meetings) == [meetings[1].id, meetings[3].id] and not window.has_next_page
    assert strangers.meetings == [] and await app.meetings.get(MALLORY, meetings[0].id) is None


@pytest.mark.parametrize(
    "arguments",
    [
        {"first": 0},
        {"first": 101},
        {"ends_from": START.replace(tzinfo=None)},
        {"starts_before": START.replace(tzinfo=None)},
    ],
    ids=["none", "too-many", "naive-from", "naive-to"],
)
async def test_a_page_that_cannot_be_served_is_a_bad_argument(arguments):
    # given
    app = services()

    # when / then
    with pytest.raises(BadArgument):
        await app.meetings.page(
            ALICE, **{"first": 10, "after": None, "status": None, "ends_from": None, "starts_before": None, **arguments}
        )
