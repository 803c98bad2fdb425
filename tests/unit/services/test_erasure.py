"""Erasing a user (services/privacy.py `Erasures`), over the fakes: what they organize is cancelled, they leave
the others, their calendars are revoked after their events left them, and a crash or an outage only delays
the end. After it, nothing in the store names them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_api.cronofy.errors import CronofyUnavailable
from gql_api.domain.erasure import NOBODY, PLACEHOLDER_EMAIL, REDACTED, ErasureCounts, ErasureStatus, subject_of
from gql_api.domain.errors import ErrorCode, InvalidInput, UserFacingError
from gql_api.domain.identity import User
from gql_api.domain.meetings import MeetingStatus, ParticipantResponse, SyncStatus
from gql_api.domain.validation import ParticipantRequest
from gql_api.services.privacy import CALENDAR_WAIT, LEASE, RETRY_WAIT
from tests.support.fakes import (
    ALICE,
    BOB,
    CAROL,
    FakeStore,
    another_process,
    begin,
    link,
    run_worker,
    schedule,
    services,
    statuses,
)

ADMIN = User("platform-backend", roles=frozenset({"calendar-admin"}))


def participant_request(user_id: str, email: str) -> ParticipantRequest:
    return ParticipantRequest(email=email, user_id=user_id)


def held(store: FakeStore) -> str:
    """Everything the fake store holds, as text (Secrets print as ***): what a canary scan reads.
    (The fake's per-minute rate windows are keyed by user id; the store's by a hash, see the e2e scan.)"""
    rows = (
        store.connections._rows,
        store.link_states._rows,
        store.meetings._rows,
        store.revocations._rows,
        store.erasures._rows,
    )
    return repr(rows).casefold()


def assert_forgotten(store: FakeStore, user: User, *more: str) -> None:
    text = held(store)
    for needle in (user.id, user.email, user.name, *more):
        assert needle is not None and needle.casefold() not in text, f"{needle!r} is still stored"


async def calendars_of_everyone(app):
    """Alice and Bob link their calendars (at accounts whose ids do not spell their user ids, as at Cronofy)."""
    return await link(app, ALICE, sub="acc_1"), await link(app, BOB, sub="acc_2")


# --- the organizer -------------------------------------------------------------------------------------------


async def test_their_meetings_to_come_are_cancelled_in_every_calendar_before_their_grant_is_revoked():
    # given Alice's meeting with Bob (his own calendar) and Carol (invited on Alice's event), in the calendars
    app = services()
    alices, bobs = await calendars_of_everyone(app)
    meeting = await schedule(app, ALICE, BOB, CAROL, idempotency_key="k-1")
    assert set(statuses(meeting).values()) == {SyncStatus.SYNCED}
    app.gateway.forget_calls()

    # when the platform erases Alice
    receipt = await app.erasures.erase_for(ADMIN, "alice")

    # then the meeting is cancelled for Bob and Carol, with a placeholder where the organizer was
    assert receipt.status is ErasureStatus.DONE
    seen_by_bob = await app.meetings.get(BOB, meeting.id)
    assert seen_by_bob.status is MeetingStatus.CANCELLED and seen_by_bob.organizer_id == NOBODY
    organizer = seen_by_bob.participants[0]
    assert (organizer.email, organizer.user_id, organizer.display_name, organizer.is_organizer) == (
        PLACEHOLDER_EMAIL,
        None,
        None,
        True,
    )
    # every copy left its calendar, and only then was Alice's grant revoked
    calls = [call.method for call in app.gateway.calls]
    assert sorted((c.args["calendar_id"]) for c in app.gateway.calls_to("delete_event")) == sorted(
        [alices.calendar.id, bobs.calendar.id]
    )
    assert app.gateway.events == {}
    assert max(i for i, m in enumerate(calls) if m == "delete_event") < calls.index("revoke")
    assert await app.linking.connections(ALICE) == [] and app.store.revocations.pending() == []
    # and the receipt counts what went
    assert receipt.counts == ErasureCounts(
        meetings_cancelled=1, meeting_seats=1, idempotency_keys=1, calendar_connections=1
    )
    assert receipt.user_id is None and receipt.addresses == frozenset()
    assert app.store.meetings.idempotency_keys() == []
    assert_forgotten(app.store, ALICE)


async def test_a_meeting_they_organized_that_is_over_stays_for_the_others():
    app = services()
    await calendars_of_everyone(app)
    meeting = await schedule(app, ALICE, BOB)
    app.clock.now = meeting.end + timedelta(days=1)
    app.gateway.forget_calls()

    receipt = await app.erasures.erase(ALICE.id)

    after = await app.meetings.get(BOB, meeting.id)
    assert after.status is MeetingStatus.SCHEDULED and after.participants[0].email == PLACEHOLDER_EMAIL
    assert receipt.counts.meetings_cancelled == 0 and receipt.counts.meeting_seats == 1
    assert app.gateway.calls_to("delete_event") == [] and app.gateway.calls_to("upsert_event") == []


# --- a participant -----------------------------------------------------------------------------------------------


async def test_a_participant_leaves_the_meeting_and_their_calendar_and_the_others_keep_it():
    # given Alice's meeting with Bob, in both calendars
    app = services()
    alices, bobs = await calendars_of_everyone(app)
    meeting = await schedule(app, ALICE, BOB)
    app.gateway.forget_calls()

    # when Bob is erased
    receipt = await app.erasures.erase(BOB.id)

    # then Alice's meeting goes on without him: his seat a declined placeholder, his copy deleted
    after = await app.meetings.get(ALICE, meeting.id)
    assert after.status is MeetingStatus.SCHEDULED and after.organizer_id == "alice"
    bob = after.participants[1]
    assert (bob.email, bob.user_id, bob.display_name, bob.response) == (
        PLACEHOLDER_EMAIL,
        None,
        None,
        ParticipantResponse.DECLINED,
    )
    assert [c.args["calendar_id"] for c in app.gateway.calls_to("delete_event")] == [bobs.calendar.id]
    assert (alices.calendar.id, meeting.event_id) in app.gateway.events  # Alice's event stays
    assert receipt.counts == ErasureCounts(meeting_seats=1, calendar_connections=1)
    assert_forgotten(app.store, BOB)


async def test_an_invitation_is_withdrawn_from_the_host_event_before_their_address_goes():
    # given Carol, without a calendar, invited on Alice's event
    app = services()
    alices = await link(app, ALICE, sub="acc_1")
    meeting = await schedule(app, ALICE, CAROL)
    app.gateway.forget_calls()

    # when Carol is erased
    receipt = await app.erasures.erase(CAROL.id)

    # then the host event was written once more, rejecting her address, and then her seat became a placeholder
    [upsert] = app.gateway.calls_to("upsert_event")
    assert [a.email for a in upsert.args["event"].rejected] == [CAROL.email]
    assert app.gateway.events[(alices.calendar.id, meeting.event_id)].attendees == ()
    after = await app.meetings.get(ALICE, meeting.id)
    assert after.participants[1].email == PLACEHOLDER_EMAIL
    assert receipt.status is ErasureStatus.DONE and receipt.counts.calendar_events_left == 0
    assert_forgotten(app.store, CAROL)


async def test_seats_that_name_them_by_address_only_and_their_names_in_titles_go_too():
    # given Alice invited the address of Bob's calendar account without his user id, and named him in the title
    app = services()
    await link(app, BOB, sub="acc_2")
    meeting = await schedule(app, ALICE, "bob@example.test", title="Mentoring Bob")
    other = await schedule(app, CAROL, BOB)  # where Bob's user id and address are known

    # when Bob is erased
    receipt = await app.erasures.erase(BOB.id)

    # then both seats are placeholders and the title no longer names him
    after = await app.meetings.get(ALICE, meeting.id)
    assert after.participants[1].email == PLACEHOLDER_EMAIL and after.title == f"Mentoring {REDACTED}"
    assert (await app.meetings.get(CAROL, other.id)).participants[1].email == PLACEHOLDER_EMAIL
    assert receipt.counts.meeting_seats == 2 and receipt.counts.meeting_texts == 1
    assert_forgotten(app.store, BOB)


async def test_an_address_an_organizer_typed_for_them_does_not_make_other_peoples_seats_theirs():
    # given Alice added Bob by user id but with Carol's address, and Carol is invited by address elsewhere
    app = services()
    await schedule(app, ALICE, participant_request("bob", CAROL.email))
    elsewhere = await schedule(app, ALICE, CAROL.email)

    # when Bob is erased, or exports his data
    exported = await app.exports.mine(BOB)
    await app.erasures.erase(BOB.id)

    # then Carol's seat elsewhere is not his: neither exported to him nor erased
    assert elsewhere.id not in {m.id for m in exported.meetings}
    assert (await app.meetings.get(ALICE, elsewhere.id)).participants[1].email == CAROL.email


async def test_other_participants_meetings_with_copies_still_pending_are_not_lost():
    # given Cronofy is down while Alice schedules with Bob: nothing was written anywhere yet
    app = services()
    alices, _ = await calendars_of_everyone(app)
    app.gateway.fail("upsert_event", CronofyUnavailable("503"), times=None)
    meeting = await schedule(app, ALICE, BOB)
    assert set(statuses(meeting).values()) == {SyncStatus.PENDING}
    app.gateway.heal()
    app.gateway.forget_calls()

    # when Bob is erased
    receipt = await app.erasures.erase(BOB.id)

    # then the erasure is done (the delete of Bob's copy, which a failed write may have left, went first),
    # and Alice's event is still on its way to her calendar
    assert receipt.status is ErasureStatus.DONE
    calls = [call.method for call in app.gateway.calls]
    assert calls.index("delete_event") < calls.index("revoke")
    after = await app.meetings.get(ALICE, meeting.id)
    assert after.status is MeetingStatus.SCHEDULED and after.sync_of(after.participants[0]).status in (
        SyncStatus.PENDING,
        SyncStatus.SYNCED,
    )
    app.clock.advance(minutes=5)
    await run_worker(app)
    assert (alices.calendar.id, meeting.event_id) in app.gateway.events
    assert app.gateway.events[(alices.calendar.id, meeting.event_id)].attendees == ()


# --- Cronofy away, a crash, twice -----------------------------------------------------------------------------


async def test_with_cronofy_down_the_erasure_waits_for_the_calendars_then_the_worker_finishes_it():
    # given Bob's copy of Alice's meeting in his calendar, and Cronofy down
    app = services()
    _, bobs = await calendars_of_everyone(app)
    meeting = await schedule(app, ALICE, BOB)
    app.gateway.fail("delete_event", CronofyUnavailable("503"), times=None)
    app.gateway.forget_calls()

    # when Bob is erased
    receipt = await app.erasures.erase(BOB.id)

    # then his data in meetings is gone at once, but his grant is kept until his event could leave his calendar
    assert (receipt.status, receipt.waiting_for) == (ErasureStatus.IN_PROGRESS, "calendars")
    assert (await app.meetings.get(ALICE, meeting.id)).participants[1].email == PLACEHOLDER_EMAIL
    assert app.gateway.calls_to("revoke") == [] and len(app.store.connections.all()) == 2

    # when Cronofy is back and the worker runs after the wait
    app.gateway.heal()
    app.clock.advance(seconds=RETRY_WAIT.total_seconds() + 60)
    await run_worker(app)
    claimed = await app.erasures.claim_due()
    await app.erasures.resume(claimed)

    # then the event left his calendar, his grant was revoked, and the erasure is done
    assert (bobs.calendar.id, meeting.event_id) not in app.gateway.events
    assert [c.args["sub"] for c in app.gateway.calls_to("revoke") if c.args["sub"]] == ["acc_2"]
    done = await app.store.erasures.get(subject_of("bob"))
    assert done.status is ErasureStatus.DONE and done.counts.calendar_events_left == 0
    assert_forgotten(app.store, BOB)


async def test_an_outage_longer_than_the_wait_leaves_the_events_counts_them_and_still_revokes_durably():
    app = services()
    await calendars_of_everyone(app)
    await schedule(app, ALICE, BOB)
    app.gateway.fail("delete_event", CronofyUnavailable("503"), times=None)
    app.gateway.fail("revoke", CronofyUnavailable("503"), times=None)
    assert (await app.erasures.erase(BOB.id)).status is ErasureStatus.IN_PROGRESS

    # when the wait is over with Cronofy still down
    app.clock.advance(seconds=CALENDAR_WAIT.total_seconds() + 1)
    await app.erasures.resume(await app.erasures.claim_due())

    # then the erasure is done: the event left in his calendar is counted, the revocation owed durably
    done = await app.store.erasures.get(subject_of("bob"))
    assert done.status is ErasureStatus.DONE
    assert done.counts.calendar_events_left == 1 and done.counts.calendar_connections == 1
    [owed] = app.store.revocations.pending()
    assert (owed.sub, owed.subject) == ("acc_2", subject_of("bob"))
    assert_forgotten(app.store, BOB)


async def test_a_copy_that_failed_for_good_is_tried_again_until_the_wait_is_over():
    app = services(outbox_max_attempts=1)
    _, bobs = await calendars_of_everyone(app)
    meeting = await schedule(app, ALICE, BOB)
    app.gateway.fail("delete_event", CronofyUnavailable("503"), times=1)
    assert (await app.erasures.erase(BOB.id)).status is ErasureStatus.IN_PROGRESS  # the delete FAILED

    waiting = await app.store.erasures.get(subject_of("bob"))
    assert waiting.status is ErasureStatus.IN_PROGRESS
    now = await app.meetings.get(ALICE, meeting.id)
    [copy] = [c for c in now.copies if c.connection_id == bobs.id]
    assert copy.withdrawn and copy.failed_version == now.version - 1  # failed for good on the withdrawal,
    assert copy.status(now.version) is SyncStatus.PENDING  # then made pending again by the erasure

    app.clock.advance(seconds=RETRY_WAIT.total_seconds())
    await app.erasures.resume(await app.erasures.claim_due())

    assert (await app.store.erasures.get(subject_of("bob"))).status is ErasureStatus.DONE
    assert (bobs.calendar.id, meeting.event_id) not in app.gateway.events


async def test_a_crash_half_way_is_finished_by_the_worker_once_the_lease_ends():
    # given a process that stops right after the meetings step (the link states step fails)
    app = services()
    await calendars_of_everyone(app)
    meeting = await schedule(app, ALICE, BOB)
    await begin(app, BOB)
    delete = app.store.link_states.delete_for_user

    async def crash(user_id):
        raise ConnectionError("the process stopped")

    app.store.link_states.delete_for_user = crash
    with pytest.raises(ConnectionError):
        await app.erasures.erase(BOB.id)
    app.store.link_states.delete_for_user = delete
    assert (await app.store.erasures.get(subject_of("bob"))).status is ErasureStatus.IN_PROGRESS

    # when another process's worker runs after the lease
    assert await app.erasures.claim_due() is None  # still leased
    app.clock.advance(seconds=LEASE.total_seconds() + 1)
    other = another_process(app)
    await other.erasures.resume(await other.erasures.claim_due())

    # then it is done, counted once
    done = await app.store.erasures.get(subject_of("bob"))
    assert done.status is ErasureStatus.DONE
    assert done.counts == ErasureCounts(meeting_seats=1, link_states=1, calendar_connections=1)
    assert (await app.meetings.get(ALICE, meeting.id)).participants[1].email == PLACEHOLDER_EMAIL
    assert_forgotten(app.store, BOB)


async def test_erasing_twice_finishes_once_and_answers_the_same_receipt():
    app = services()
    await calendars_of_everyone(app)
    await schedule(app, ALICE, BOB)
    first = await app.erasures.erase(BOB.id)
    app.gateway.forget_calls()

    again = await app.erasures.erase(BOB.id)

    assert again.status is ErasureStatus.DONE and again.counts == first.counts
    assert app.gateway.calls == []


async def test_what_the_user_does_while_being_erased_is_erased_too():
    # given Bob schedules one more meeting while his erasure deletes his copy (a token issued before he left)
    app = services()
    await calendars_of_everyone(app)
    await schedule(app, ALICE, BOB)
    late = []

    async def bob_acts(args):
        if not late:
            late.append(await schedule(app, BOB, CAROL))

    app.gateway.before("delete_event", bob_acts)

    # when Bob is erased
    receipt = await app.erasures.erase(BOB.id)

    # then that meeting was found on the next round and cancelled too
    assert receipt.status is ErasureStatus.DONE
    assert (await app.meetings.get(CAROL, late[0].id)).status is MeetingStatus.CANCELLED
    assert_forgotten(app.store, BOB)


# --- who may, and what is asked ------------------------------------------------------------------------------


async def test_an_unknown_user_id_erases_nothing_and_says_so():
    app = services()
    await schedule(app, ALICE, BOB)

    receipt = await app.erasures.erase_for(ADMIN, "nobody-we-know")

    assert receipt.status is ErasureStatus.NOTHING_TO_ERASE and receipt.counts == ErasureCounts()
    assert app.store.erasures.all() == [] and app.gateway.calls_to("revoke") == []


async def test_only_the_admin_role_may_erase_and_a_user_is_refused_NOT_ALLOWED():
    app = services()
    await schedule(app, ALICE, BOB)

    for caller in (BOB, User("platform-backend", roles=frozenset({"admin"}))):
        with pytest.raises(UserFacingError) as refused:
            await app.erasures.erase_for(caller, "bob")
        assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert app.store.erasures.all() == []

    other_role = services(auth_admin_role="erasers")
    assert (await other_role.erasures.erase_for(User("x", roles=frozenset({"erasers"})), "bob")).status is (
        ErasureStatus.NOTHING_TO_ERASE
    )


@pytest.mark.parametrize("user_id", ["", "   ", "x" * 257, "bob\x00", "bob\n"])
async def test_a_malformed_user_id_is_invalid_input_on_the_field(user_id):
    app = services()

    with pytest.raises(InvalidInput) as refused:
        await app.erasures.erase_for(ADMIN, user_id)

    assert [(e.code, e.field) for e in refused.value.errors] == [(ErrorCode.INVALID_INPUT, ("user_id",))]


async def test_their_link_states_and_owed_revocations_are_handled_and_revocations_name_only_a_hash():
    app = services()
    connection = await link(app, BOB, sub="acc_2")
    app.gateway.fail("revoke", CronofyUnavailable("503"), times=None)
    await app.linking.unlink(BOB, connection.id)  # owed
    await begin(app, BOB)
    await begin(app, BOB)

    receipt = await app.erasures.erase(BOB.id)

    assert receipt.counts.link_states == 2 and app.store.link_states.issued() == []
    [owed] = app.store.revocations.pending()  # still owed: the grant must end
    assert owed.subject == subject_of("bob")
    assert_forgotten(app.store, BOB)


async def test_the_grace_of_the_mutation_answers_in_progress_and_the_rest_goes_on():
    app = services()
    await calendars_of_everyone(app)
    await schedule(app, ALICE, BOB)
    app.background.slow = True  # the grace runs out at once

    receipt = await app.erasures.erase_for(ADMIN, "bob")

    assert (receipt.status, receipt.waiting_for) == (ErasureStatus.IN_PROGRESS, None)
    await app.background.run_pending()
    assert (await app.store.erasures.get(subject_of("bob"))).status is ErasureStatus.DONE


async def test_a_calendar_that_needs_relinking_is_not_waited_for_its_events_are_counted_as_left():
    # given Bob's copy in his calendar, which then stopped accepting our credentials
    app = services()
    _, bobs = await calendars_of_everyone(app)
    await schedule(app, ALICE, BOB)
    await app.access.needs_relink(bobs.id)
    app.gateway.forget_calls()

    # when Bob is erased
    receipt = await app.erasures.erase(BOB.id)

    # then nothing can delete his event: the erasure does not wait for it, counts it, and still revokes
    assert receipt.status is ErasureStatus.DONE
    assert receipt.counts.calendar_events_left == 1 and receipt.counts.calendar_connections == 1
    assert app.gateway.calls_to("delete_event") == [] and app.gateway.calls_to("revoke")
    assert_forgotten(app.store, BOB)
