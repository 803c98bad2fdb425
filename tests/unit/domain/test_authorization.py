"""Who may touch whose calendar (DESIGN.md §9)."""

from __future__ import annotations

import pytest

from gql_api.domain.authorization import check_admin, check_calendar_integration, check_organizer, check_partners
from gql_api.domain.errors import ErrorCode, UserFacingError
from gql_api.domain.identity import User
from gql_api.domain.validation import ParticipantRequest, check_user_id

from .builders import meeting

ALICE = User("alice", partners=frozenset({"bob"}))


def test_a_partner_given_by_user_id_is_allowed():
    assert check_partners(ALICE, [ParticipantRequest("bob@example.test", user_id="bob")]) == []


def test_anyone_given_by_e_mail_only_is_allowed():
    assert check_partners(ALICE, [ParticipantRequest("stranger@example.test")]) == []


def test_a_user_id_that_is_not_a_partner_is_not_allowed_on_that_participant():
    # given Carol and Mallory are not Alice's partners
    participants = [
        ParticipantRequest("bob@example.test", user_id="bob"),
        ParticipantRequest("carol@example.test", user_id="carol"),
        ParticipantRequest("mallory@example.test", user_id="mallory"),
    ]

    # when the participants are checked
    faults = check_partners(ALICE, participants)

    # then each outsider is refused on their own field
    assert [(f.code, f.field) for f in faults] == [
        (ErrorCode.NOT_ALLOWED, ("participants", 1, "user_id")),
        (ErrorCode.NOT_ALLOWED, ("participants", 2, "user_id")),
    ]


def test_no_partners_claim_means_no_user_ids():
    assert len(check_partners(User("alice"), [ParticipantRequest("b@example.test", user_id="bob")])) == 1


def test_a_program_without_calendars_may_not_link():
    check_calendar_integration(User("alice"))  # absent claim: on
    with pytest.raises(UserFacingError) as refused:
        check_calendar_integration(User("alice", calendar_integration=False))
    assert refused.value.code is ErrorCode.NOT_ALLOWED


def test_only_the_organizer_changes_a_meeting():
    subject = meeting()
    check_organizer(subject, subject.organizer_id)
    with pytest.raises(UserFacingError) as refused:
        check_organizer(subject, "bob")
    assert (refused.value.code, refused.value.field) == (ErrorCode.NOT_ALLOWED, ("meeting_id",))


def test_only_a_token_with_the_admin_role_acts_for_everyone():
    check_admin(User("platform", roles=frozenset({"calendar-admin", "other"})), "calendar-admin")
    for roles in (frozenset(), frozenset({"admin"}), frozenset({"Calendar-Admin"})):
        with pytest.raises(UserFacingError) as refused:
            check_admin(User("alice", roles=roles), "calendar-admin")
        assert (refused.value.code, refused.value.field) == (ErrorCode.NOT_ALLOWED, None)


@pytest.mark.parametrize(
    ("user_id", "valid"),
    [
        ("u-42", True),
        ("x" * 256, True),
        ("émile", True),
        ("", False),
        ("  ", False),
        ("x" * 257, False),
        ("a\x7fb", False),
    ],
)
def test_a_user_id_as_a_token_may_carry_it(user_id, valid):
    assert (check_user_id(user_id) == []) is valid
