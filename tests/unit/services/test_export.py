"""Exporting what is held about a user (services/privacy.py `Exports`): connections without credentials, their
meetings, their owed revocations and unfinished links; for the platform's service token, or their own."""

from __future__ import annotations

import pytest

from gql_api.cronofy.errors import CronofyUnavailable
from gql_api.domain.errors import BadArgument, ErrorCode, UserFacingError
from gql_api.domain.identity import User
from tests.support.fakes import ALICE, BOB, CAROL, T0, begin, link, schedule, services

ADMIN = User("platform-backend", roles=frozenset({"calendar-admin"}))


async def test_everything_held_about_a_user_and_no_credential():
    # given Bob linked two calendar accounts, unlinked one while Cronofy was away, began a third link,
    # organizes one meeting and attends another (one more names him by address only)
    app = services()
    kept = await link(app, BOB, sub="acc_2")
    gone = await link(app, BOB, sub="acc_3", profile_name="bob.old@example.test")
    app.gateway.fail("revoke", CronofyUnavailable("503"), times=None)
    await app.linking.unlink(BOB, gone.id)
    await begin(app, BOB)
    organized = await schedule(app, BOB, CAROL)
    attended = await schedule(app, ALICE, BOB)
    by_address = await schedule(app, CAROL, "Bob@Example.test")
    await schedule(app, ALICE, CAROL)  # not his

    # when the platform exports Bob's data
    data = await app.exports.export_for(ADMIN, "bob")

    # then
    assert data.user_id == "bob" and data.exported_at == app.clock()
    [held] = data.connections
    assert held.connection == kept and held.credentials_since == T0
    assert {m.id for m in data.meetings} == {organized.id, attended.id, by_address.id}
    [owed] = data.revocations
    assert (owed.owed_since, owed.attempts, owed.last_error) == (T0, 1, "CronofyUnavailable")
    assert [state.user_id for state in data.link_requests] == ["bob"]
    assert "refresh" not in repr(data) and "access-" not in repr(data)


async def test_a_user_exports_their_own_and_an_unknown_user_has_nothing():
    app = services()
    await schedule(app, ALICE, BOB)

    mine = await app.exports.mine(BOB)
    nobody = await app.exports.export_for(ADMIN, "nobody-we-know")

    assert len(mine.meetings) == 1 and mine.user_id == "bob"
    assert (nobody.connections, nobody.meetings, nobody.revocations, nobody.link_requests) == ((), (), (), ())


async def test_only_the_admin_role_exports_someone_elses_data():
    app = services()

    with pytest.raises(UserFacingError) as refused:
        await app.exports.export_for(BOB, "alice")

    assert refused.value.code is ErrorCode.NOT_ALLOWED


@pytest.mark.parametrize("user_id", ["", " ", "x" * 257, "a\tb"])
async def test_a_malformed_user_id_is_a_bad_argument(user_id):
    app = services()

    with pytest.raises(BadArgument):
        await app.exports.export_for(ADMIN, user_id)
