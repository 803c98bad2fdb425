"""A user's changes a minute are admitted against their own budget (issue 12 item 7)."""

from __future__ import annotations

import pytest

from gql_api.domain.identity import User
from gql_api.services.throttle import RateLimited, Throttle
from tests.support.fakes import FakeClock, FakeUserRateLimit

ALICE, BOB = User("alice"), User("bob")


async def test_changes_within_the_budget_are_admitted_and_the_next_one_is_told_when_to_come_back():
    # given a budget of 5 a minute
    clock = FakeClock()
    throttle = Throttle(limit=FakeUserRateLimit(per_minute=5), clock=clock)

    # when Alice makes 4 changes, then a request with 2 more
    await throttle.admit(ALICE, 4)
    with pytest.raises(RateLimited) as limited:
        await throttle.admit(ALICE, 2)

    # then she waits whole seconds until the minute is over, while Bob goes on
    assert 1 <= limited.value.retry_after <= 60 and isinstance(limited.value.retry_after, int)
    await throttle.admit(BOB, 5)
    await throttle.admit(ALICE, 1)  # the refused request took nothing


async def test_a_request_without_changes_costs_nothing_and_zero_means_no_limit():
    clock = FakeClock()
    await Throttle(limit=FakeUserRateLimit(per_minute=1), clock=clock).admit(ALICE, 0)
    unlimited = Throttle(limit=FakeUserRateLimit(per_minute=0), clock=clock)
    for _ in range(100):
        await unlimited.admit(ALICE, 5)
