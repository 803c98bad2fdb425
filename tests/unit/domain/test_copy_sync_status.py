"""Where writing a meeting to each calendar stands (DESIGN.md §5 outbox, §7).

A copy's status is relative to the meeting's version: every change is a new version that makes the
copies pending again; a copy is SYNCED once it carries the current version, FAILED once the retry budget
for the current version ran out."""

import dataclasses
from datetime import timedelta

import pytest

from gql_api.domain.meetings import Content, Delivery, SyncStatus

from .builders import ALICE, BOB, BOBS_COPY, DAVE, HOST_COPY, T0, copy, meeting, participant, with_copy

NOW = T0
SECOND = timedelta(seconds=1)


def failed(subject, version, times, *, retry_in=30 * SECOND, max_attempts=10, error="Cronofy is unavailable."):
    """`subject` after `times` failed attempts to write `version`."""
    for _ in range(times):
        subject = subject.attempt_failed(version, error, retry_in=retry_in, max_attempts=max_attempts, now=NOW)
    return subject


# --- status relative to the version ------------------------------------------------------------


@pytest.mark.parametrize(
    ("synced_version", "failed_version", "removed", "version", "status"),
    [
        (0, 0, False, 1, SyncStatus.PENDING),  # never written
        (1, 0, False, 1, SyncStatus.SYNCED),  # carries the current version
        (1, 0, False, 2, SyncStatus.PENDING),  # the meeting changed since
        (0, 1, False, 1, SyncStatus.FAILED),  # the budget for this version ran out
        (0, 1, False, 2, SyncStatus.PENDING),  # a later change tries again
        (1, 2, False, 2, SyncStatus.FAILED),  # an older version's success does not hide a failure
        (0, 0, True, 1, SyncStatus.SYNCED),  # its owner deleted it: nothing outstanding
        (0, 3, True, 3, SyncStatus.SYNCED),  # ... even when writing it had failed
    ],
)
def test_a_copys_status_is_relative_to_the_meetings_version(synced_version, failed_version, removed, version, status):
    subject = copy(synced_version=synced_version, failed_version=failed_version, removed=removed)

    assert subject.status(version) is status


def test_a_change_to_the_meeting_makes_a_synced_copy_pending_again():
    # given a copy that carries version 1
    written = copy().written_ok(1, Content("fingerprint-v1", ()), NOW)
    assert written.status(1) is SyncStatus.SYNCED

    # when the meeting changes (version 2)
    # then the copy must be written again
    assert written.status(2) is SyncStatus.PENDING


def test_a_write_of_an_older_version_leaves_the_copy_pending():
    late = copy().written_ok(1, Content("fingerprint-v1", ()), NOW)

    assert late.status(2) is SyncStatus.PENDING


# --- a successful write ---------------------------------------------------------------------------


def test_a_successful_write_records_the_version_the_time_and_what_was_written():
    # given a copy that failed twice on version 3
    retrying = failed(copy(), 3, 2)

    # when version 3 is written
    written = retrying.written_ok(3, Content("fingerprint-v3", ()), NOW)

    # then it is SYNCED as of now, remembers what it wrote, and the failures are forgotten
    assert written.status(3) is SyncStatus.SYNCED
    assert (written.synced_version, written.synced_at, written.written) == (3, NOW, "fingerprint-v3")
    assert (written.attempts, written.attempt_version, written.next_attempt_at, written.last_error) == (
        0,
        0,
        None,
        None,
    )


# --- failed attempts and the retry budget ---------------------------------------------------------


def test_a_failure_worth_retrying_waits_and_stays_pending():
    # when writing version 1 fails with a failure worth retrying
    retrying = copy().attempt_failed(1, "Cronofy is unavailable.", retry_in=30 * SECOND, max_attempts=10, now=NOW)

    # then the copy is still PENDING, waits 30 s, and says it will retry
    assert retrying.status(1) is SyncStatus.PENDING
    assert retrying.next_attempt_at == NOW + 30 * SECOND
    assert retrying.last_error == "Cronofy is unavailable. Retrying."
    assert not retrying.failed_for_good(1)


@pytest.mark.parametrize(
    ("failures", "status"),
    [(1, SyncStatus.PENDING), (9, SyncStatus.PENDING), (10, SyncStatus.FAILED)],
)
def test_the_attempt_that_spends_the_budget_fails_the_copy(failures, status):
    # given a budget of 10 attempts (OUTBOX_MAX_ATTEMPTS' default)
    # when that many attempts on version 1 failed
    subject = failed(copy(), 1, failures, max_attempts=10)

    # then the copy is FAILED only once all 10 are spent
    assert subject.attempts == failures
    assert subject.status(1) is status


def test_a_copy_that_failed_for_good_shows_the_error_and_waits_for_nothing():
    subject = failed(copy(), 1, 3, max_attempts=3, error="Cronofy is unavailable.")

    assert subject.failed_for_good(1)
    assert subject.last_error == "Cronofy is unavailable."
    assert subject.next_attempt_at is None


def test_a_failure_not_worth_retrying_is_final_at_once():
    # when Cronofy refuses the event outright (no retry_in)
    subject = copy().attempt_failed(1, "Cronofy refused the event.", retry_in=None, max_attempts=10, now=NOW)

    # then the copy is FAILED on its first attempt
    assert subject.status(1) is SyncStatus.FAILED
    assert subject.attempts == 1
    assert subject.last_error == "Cronofy refused the event."
    assert subject.next_attempt_at is None


def test_each_version_gets_a_fresh_retry_budget():
    # given version 1 failed for good
    exhausted = failed(copy(), 1, 10)

    # when version 2 fails once
    subject = exhausted.attempt_failed(2, "Cronofy is unavailable.", retry_in=SECOND, max_attempts=10, now=NOW)

    # then that is the first attempt on version 2, which is PENDING
    assert subject.attempts == 1
    assert subject.status(2) is SyncStatus.PENDING
    assert not subject.failed_for_good(2)


# --- backoff ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "backing_off"),
    [(NOW, True), (NOW + 29 * SECOND, True), (NOW + 30 * SECOND, False), (NOW + 31 * SECOND, False)],
)
def test_a_failed_attempt_waits_until_its_next_attempt_is_due(now, backing_off):
    retrying = failed(copy(), 1, 1, retry_in=30 * SECOND)

    assert retrying.backing_off(1, now) is backing_off


def test_a_new_version_does_not_wait_for_the_old_versions_backoff():
    retrying = failed(copy(), 1, 1, retry_in=timedelta(hours=1))

    assert not retrying.backing_off(2, NOW)


# --- the meeting's view: what is pending, due, and when -----------------------------------------


def test_pending_copies_leave_out_synced_failed_and_removed_ones():
    subject = meeting(
        version=2,
        copies=(
            copy(synced_version=2),  # synced
            copy(failed_version=2),  # failed for good
            copy(removed=True),  # deleted by its owner
            copy(synced_version=1),  # an older version
            copy(),  # never written
        ),
    )

    assert subject.pending_copies() == [3, 4]


def test_copies_backing_off_are_pending_but_not_due():
    # given two pending copies, the first waiting a minute after a failure
    subject = meeting()
    subject = subject.with_copies({HOST_COPY: failed(subject.copies[HOST_COPY], 1, 1, retry_in=60 * SECOND)})

    # then both are pending, only the second is due now, and both once the minute is over
    assert subject.pending_copies() == [HOST_COPY, BOBS_COPY]
    assert subject.due_copies(NOW) == [BOBS_COPY]
    assert subject.due_copies(NOW + 60 * SECOND) == [HOST_COPY, BOBS_COPY]


def test_nothing_is_due_when_every_copy_is_synced():
    subject = meeting(copies=(copy(synced_version=1), copy(removed=True), copy(failed_version=1)))

    assert subject.next_due(NOW) is None


def test_a_pending_copy_that_waits_for_nothing_is_due_now():
    subject = meeting()

    assert subject.next_due(NOW) == NOW


def test_calendar_work_is_next_due_when_the_earliest_backoff_ends():
    subject = meeting()
    subject = subject.with_copies(
        {
            HOST_COPY: failed(subject.copies[HOST_COPY], 1, 1, retry_in=90 * SECOND),
            BOBS_COPY: failed(subject.copies[BOBS_COPY], 1, 1, retry_in=30 * SECOND),
        }
    )

    assert subject.next_due(NOW) == NOW + 30 * SECOND


def test_a_backoff_from_an_older_version_does_not_delay_the_new_one():
    # given both copies wait an hour after failing on version 1
    subject = meeting()
    waiting = subject.with_copies(
        {i: failed(c, 1, 1, retry_in=timedelta(hours=1)) for i, c in enumerate(subject.copies)}
    )
    assert waiting.next_due(NOW) == NOW + timedelta(hours=1)

    # when the meeting changes (version 2)
    changed = dataclasses.replace(waiting, version=2)

    # then writing it is due at once
    assert changed.next_due(NOW) == NOW
    assert changed.due_copies(NOW) == [HOST_COPY, BOBS_COPY]


# --- what a participant sees --------------------------------------------------------------------


def test_a_participant_without_a_copy_is_synced_and_was_never_synced():
    # given nobody in the meeting has a calendar (DESIGN.md §7)
    nobody = participant(email="dave@example.test", delivery=Delivery.NONE, copy=None)
    subject = meeting(participants=(nobody,), copies=())

    # then Dave's event has nothing outstanding, and no syncedAt
    sync = subject.sync_of(nobody)
    assert (sync.status, sync.synced_at, sync.last_error) == (SyncStatus.SYNCED, None, None)


def test_a_participant_sees_the_status_of_the_copy_that_holds_their_event():
    # given Bob's copy is synced and Alice's host event failed for good
    subject = with_copy(meeting(), BOBS_COPY, synced_version=1, synced_at=NOW)
    subject = subject.with_copies({HOST_COPY: failed(subject.copies[HOST_COPY], 1, 1, retry_in=None)})

    # then Bob is SYNCED, while Alice and Dave (invited on her event) see the failure and its reason
    assert subject.sync_of(subject.participants[BOB]).status is SyncStatus.SYNCED
    for who in (ALICE, DAVE):
        sync = subject.sync_of(subject.participants[who])
        assert (sync.status, sync.last_error) == (SyncStatus.FAILED, "Cronofy is unavailable.")


def test_a_pending_copy_shows_the_error_it_is_retrying_after():
    subject = meeting()
    subject = subject.with_copies({BOBS_COPY: failed(subject.copies[BOBS_COPY], 1, 1)})

    sync = subject.sync_of(subject.participants[BOB])
    assert (sync.status, sync.last_error) == (SyncStatus.PENDING, "Cronofy is unavailable. Retrying.")


def test_a_synced_copy_shows_no_error_and_when_it_was_last_written():
    # given Bob's copy carries version 1 but still remembers an old error
    subject = with_copy(meeting(), BOBS_COPY, synced_version=1, synced_at=NOW, last_error="Cronofy is unavailable.")

    sync = subject.sync_of(subject.participants[BOB])
    assert (sync.status, sync.last_error, sync.synced_at) == (SyncStatus.SYNCED, None, NOW)


def test_a_copy_being_rewritten_still_says_when_it_was_last_written():
    subject = with_copy(meeting(version=2), BOBS_COPY, synced_version=1, synced_at=NOW - 60 * SECOND)

    sync = subject.sync_of(subject.participants[BOB])
    assert (sync.status, sync.synced_at) == (SyncStatus.PENDING, NOW - 60 * SECOND)
