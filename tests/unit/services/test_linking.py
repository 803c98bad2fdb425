"""Linking a calendar account: the OAuth state, the code exchange, what is stored, and what follows."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from gql_api.cronofy.errors import CronofyUnavailable, InvalidGrant
from gql_api.domain.connections import CalendarProvider, ConnectionStatus, TargetCalendar
from gql_api.domain.errors import ErrorCode, UserFacingError
from gql_api.domain.meetings import SyncStatus
from gql_api.services.calendar_access import RELINK_MESSAGE
from tests.support.fakes import (
    ALICE,
    BOB,
    CALLBACK_BASE,
    REDIRECT_URI,
    T0,
    begin,
    calendar,
    copy_of,
    link,
    run_worker,
    schedule,
    services,
    state_of,
    sync_of,
)

# --- beginning ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/../evil",
        REDIRECT_URI + "?next=https://evil.test",
        REDIRECT_URI + "/",
        REDIRECT_URI.upper(),
        REDIRECT_URI.replace("https:", "http:"),
        "https://evil.test/calendar/linked",
        "",
    ],
)
async def test_begin_accepts_only_a_redirect_uri_on_the_allow_list_exactly(redirect_uri):
    # given
    app = services()

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.begin(ALICE, redirect_uri=redirect_uri, provider=None)

    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_REDIRECT_URI, ("redirect_uri",))
    assert app.store.link_states.issued() == [] and app.gateway.calls == []


async def test_begin_binds_a_fresh_short_lived_state_to_the_user():
    # given
    app = services(cronofy_data_center="de")

    # when
    first = await app.linking.begin(ALICE, redirect_uri=REDIRECT_URI, provider=CalendarProvider.GOOGLE)
    second = await app.linking.begin(ALICE, redirect_uri=REDIRECT_URI, provider=CalendarProvider.OTHER)

    # then
    assert first.expires_at == T0 + timedelta(seconds=app.settings.link_state_ttl_seconds)
    assert state_of(first.authorization_url) != state_of(second.authorization_url)
    assert [(s.user_id, s.redirect_uri, s.data_center) for s in app.store.link_states.issued()] == [
        ("alice", REDIRECT_URI, "de"),
        ("alice", REDIRECT_URI, "de"),
    ]
    asked = app.gateway.calls_to("authorization_url")
    assert [(c["redirect_uri"], c["data_center"], c["provider_name"]) for c in asked] == [
        (REDIRECT_URI, "de", "google"),
        (REDIRECT_URI, "de", None),  # OTHER lets the user choose at Cronofy
    ]


# --- the code and the state ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["", "   ", "c" * 2049])
async def test_a_missing_or_oversized_code_is_refused_before_the_state_is_used(code):
    # given
    app = services()
    state = await begin(app, ALICE)

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(ALICE, code=code, state=state)

    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_INPUT, ("code",))
    assert len(app.store.link_states.unused()) == 1
    assert app.gateway.calls_to("exchange_code") == []


@pytest.mark.parametrize("state", ["", "  ", "s" * 257, "never-issued"])
async def test_an_unknown_or_malformed_state_is_INVALID_STATE(state):
    # given
    app = services()
    app.gateway.account("acc_alice")

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_STATE, ("state",))
    assert app.gateway.calls_to("exchange_code") == [] and app.store.connections.all() == []


async def test_a_state_is_single_use():
    # given
    app = services()
    state = await begin(app, ALICE)
    app.gateway.account("acc_alice")
    await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # then
    assert refused.value.code is ErrorCode.INVALID_STATE
    assert len(app.gateway.calls_to("exchange_code")) == 1


async def test_another_users_state_is_refused_and_stays_usable_by_its_owner():
    # given
    app = services()
    state = await begin(app, ALICE)
    app.gateway.account("acc_bob")
    app.gateway.account("acc_alice")

    # when Bob presents Alice's state
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(BOB, code=app.gateway.code_for("acc_bob"), state=state)

    # then he is refused, and Alice can still use it
    assert refused.value.code is ErrorCode.INVALID_STATE
    assert app.gateway.calls_to("exchange_code") == []
    linked = await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)
    assert linked.user_id == "alice"


async def test_an_expired_state_is_INVALID_STATE():
    # given
    app = services()
    state = await begin(app, ALICE)
    app.clock.advance(seconds=app.settings.link_state_ttl_seconds)

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # then
    assert refused.value.code is ErrorCode.INVALID_STATE


# --- the exchange ------------------------------------------------------------------------------------------------


async def test_a_code_cronofy_rejects_is_AUTHORIZATION_REJECTED_and_uses_the_state_up():
    # given
    app = services()
    state = await begin(app, ALICE)

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(ALICE, code="not-a-code-cronofy-issued", state=state)

    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.AUTHORIZATION_REJECTED, ("code",))
    assert app.store.link_states.unused() == []  # consumed by its owner's attempt, even a failed one
    assert app.store.connections.all() == []


async def test_the_exchange_goes_to_the_redirect_uri_and_data_center_of_the_state():
    # given
    app = services(cronofy_data_center="uk")
    state = await begin(app, ALICE)
    app.gateway.account("acc_alice")

    # when
    connection = await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # then
    [exchange] = app.gateway.calls_to("exchange_code")
    assert (exchange["redirect_uri"], exchange["data_center"]) == (REDIRECT_URI, "uk")
    assert connection.data_center == "uk"
    assert {call["data_center"] for call in app.gateway.calls if "access_token" in call.args} == {"uk"}


@pytest.mark.parametrize("failing", ["exchange_code", "list_calendars"])
async def test_cronofy_unreachable_while_linking_is_UPSTREAM_UNAVAILABLE_and_stores_nothing(failing):
    # given
    app = services()
    state = await begin(app, ALICE)
    app.gateway.account("acc_alice")
    app.gateway.fail(failing, CronofyUnavailable("503 from /oauth/token"))

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # then
    assert refused.value.code is ErrorCode.UPSTREAM_UNAVAILABLE and refused.value.field is None
    assert "503" not in refused.value.message
    assert app.store.connections.all() == []


async def test_a_grant_without_a_sub_cannot_be_stored():
    # given
    app = services()
    state = await begin(app, ALICE)

    app.gateway.answer("exchange_code", dataclasses.replace(app.gateway.grant_for("acc_alice"), sub=None))

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # then
    assert refused.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert app.store.connections.all() == []


async def test_an_account_linked_by_another_user_is_NOT_ALLOWED():
    # given Alice linked the account
    app = services()
    await link(app, ALICE, sub="acc_shared")

    # when Bob links the same account
    with pytest.raises(UserFacingError) as refused:
        await link(app, BOB, sub="acc_shared")

    # then
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert await app.linking.connections(BOB) == []
    assert [c.user_id for c in app.store.connections.all()] == ["alice"]


# --- what is stored ------------------------------------------------------------------------------------------------


async def test_link_stores_the_account_with_its_primary_writable_calendar_and_credential():
    # given
    app = services()
    calendars = [
        calendar("cal_readonly", "Holidays", primary=True, readonly=True),
        calendar("cal_gone", "Old", primary=True, deleted=True),
        calendar("cal_side", "Side", primary=False),
        calendar("cal_main", "Main", primary=True),
    ]

    # when
    connection = await link(
        app, ALICE, sub="acc_alice", calendars=calendars, provider_name="live_connect", profile_name="a@outlook.test"
    )

    # then
    assert connection.user_id == "alice" and connection.sub == "acc_alice"
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.provider is CalendarProvider.OUTLOOK_COM
    assert connection.profile_name == "a@outlook.test"
    assert connection.calendar == TargetCalendar("cal_main", "Main", True)
    assert connection.scopes == ("list_calendars", "create_event", "delete_event")
    assert connection.linked_at == T0
    credential = app.store.connections.credential_of(connection.id)
    assert app.gateway.sub_of(credential.access_token) == "acc_alice"
    assert credential.access_token_expires_at == T0 + timedelta(seconds=app.gateway.expires_in)
    assert await app.linking.connections(ALICE) == [connection]
    assert await app.linking.connection(ALICE, connection.id) == connection
    assert await app.linking.connection(BOB, connection.id) is None


@pytest.mark.parametrize(
    ("calendars", "chosen"),
    [
        ([calendar("cal_ro", primary=True, readonly=True), calendar("cal_1", primary=False)], "cal_1"),
        ([calendar("cal_1", primary=False), calendar("cal_2", primary=False)], "cal_1"),
        ([calendar("cal_ro", readonly=True)], None),
        ([], None),
    ],
    ids=["first-writable", "no-primary", "none-writable", "no-calendars"],
)
async def test_without_a_primary_writable_calendar_the_first_writable_one_is_the_target(calendars, chosen):
    # given
    app = services()

    # when
    connection = await link(app, ALICE, calendars=calendars)

    # then
    assert (connection.calendar.id if connection.calendar else None) == chosen


async def test_an_unknown_provider_is_OTHER_and_the_profile_name_falls_back_to_the_calendars():
    # given
    app = services()

    # when
    connection = await link(
        app,
        ALICE,
        calendars=[calendar("cal_1", profile_name="alice@caldav.test")],
        provider_name="caldav",
        profile_name="",
    )

    # then
    assert connection.provider is CalendarProvider.OTHER
    assert connection.profile_name == "alice@caldav.test"


# --- linking again ----------------------------------------------------------------------------------------------------


async def test_relinking_the_same_account_keeps_the_connection_and_revokes_the_replaced_grant():
    # given Alice's connection needs relinking
    app = services()
    first = await link(app, ALICE)
    replaced = app.store.connections.credential_of(first.id).refresh_token
    await app.access.needs_relink(first.id)
    app.clock.advance(days=1)
    app.gateway.forget_calls()

    # when she links the same account again
    again = await link(app, ALICE)

    # then it is the same connection, active again, and the grant it replaced is revoked at once
    assert again.id == first.id and again.linked_at == first.linked_at
    assert again.status is ConnectionStatus.ACTIVE
    assert [c.id for c in await app.linking.connections(ALICE)] == [first.id]
    assert app.store.connections.credential_of(first.id).refresh_token != replaced
    assert [(c["refresh_token"], c["sub"]) for c in app.gateway.calls_to("revoke")] == [(replaced, None)]
    assert app.store.revocations.pending() == []
    assert app.gateway.calls_to("create_channel") == []  # its channel is still open


async def test_a_replaced_grant_cronofy_cannot_revoke_now_stays_owed():
    # given
    app = services()
    first = await link(app, ALICE)
    replaced = app.store.connections.credential_of(first.id).refresh_token
    app.gateway.fail("revoke", CronofyUnavailable("503"))

    # when
    again = await link(app, ALICE)

    # then
    assert again.status is ConnectionStatus.ACTIVE
    [owed] = app.store.revocations.pending()
    assert owed.refresh_token == replaced and owed.sub is None  # not by account: that would end the new grant too


async def test_copies_that_failed_while_the_calendar_needed_relinking_are_written_after_relinking():
    # given Bob's calendar needs relinking, so his copy of their meeting failed
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    await app.access.needs_relink(bobs.id)
    failed = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(failed, BOB) is SyncStatus.FAILED and copy_of(failed, BOB).last_error == RELINK_MESSAGE

    # when Bob links the same account again and the worker runs
    await link(app, BOB)
    assert await run_worker(app) == 1

    # then his copy is written
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, BOB) is SyncStatus.SYNCED and sync_of(after, ALICE) is SyncStatus.SYNCED
    assert app.gateway.events[(bobs.calendar.id, meeting.event_id)].summary == "Mentoring session"


async def test_linking_opens_a_push_channel_on_an_unguessable_callback_url():
    # given
    app = services()

    # when
    connection = await link(app, ALICE)

    # then
    [created] = app.gateway.calls_to("create_channel")
    token = created["callback_url"].removeprefix(CALLBACK_BASE)
    assert created["callback_url"].startswith(CALLBACK_BASE) and len(token) >= 22  # at least 128 random bits
    assert connection.channel_id in app.gateway.channels
    assert connection.last_synced_at == T0  # changes are followed from now on
    assert (await app.changes.connection_for(token)).id == connection.id
    assert app.background.graces and app.background.failures == []


async def test_a_channel_cronofy_cannot_open_now_does_not_fail_the_link():
    # given
    app = services()
    app.gateway.fail("create_channel", CronofyUnavailable("503"))

    # when
    connection = await link(app, ALICE)

    # then
    assert connection.status is ConnectionStatus.ACTIVE and connection.channel_id is None
    assert connection.last_synced_at is None
    assert app.store.connections.sync_of(connection.id).due_at == T0 + timedelta(seconds=30)  # a read opens it


async def test_a_rejected_exchange_is_refused_without_touching_an_existing_connection():
    # given
    app = services()
    connection = await link(app, ALICE)
    state = await begin(app, ALICE)
    app.gateway.fail("exchange_code", InvalidGrant("invalid_grant"))

    # when
    with pytest.raises(UserFacingError):
        await app.linking.link(ALICE, code=app.gateway.code_for("acc_alice"), state=state)

    # then
    assert await app.linking.connections(ALICE) == [connection]
    assert app.gateway.calls_to("revoke") == []
