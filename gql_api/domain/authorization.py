"""Who may touch whose calendar (DESIGN.md §9).

The platform, not this service, knows mentoring relationships and programs; it says so in the token
(`User.partners`, `User.calendar_integration`), and these rules enforce it:

- a participant given by user id must be one of the organizer's partners, else NOT_ALLOWED on that
  participant's field, the same answer whether or not that user has a calendar linked (no enumeration);
  participants given by e-mail only are allowed: they can only be invited from the organizer's calendar;
- a user whose program has the integration off may not link a calendar;
- only the organizer changes or cancels a meeting; the others answer it (domain/responses.py);
- only a service token holding the admin role (AUTH_ADMIN_ROLE) erases a user or exports anyone's data;
  users export their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ErrorCode, UserFacingError
from .identity import User
from .meetings import Meeting
from .validation import ParticipantRequest

NOT_A_PARTNER = (
    "You can add a platform user only when you are mentoring partners in a program with calendars on; "
    "invite anyone else by e-mail address."
)


def check_partners(organizer: User, participants: Sequence[ParticipantRequest]) -> list[UserFacingError]:
    return [
        UserFacingError(ErrorCode.NOT_ALLOWED, NOT_A_PARTNER, ("participants", i, "user_id"))
        for i, participant in enumerate(participants)
        if participant.user_id and participant.user_id != organizer.id and participant.user_id not in organizer.partners
    ]


def check_calendar_integration(user: User) -> None:
    if not user.calendar_integration:
        raise UserFacingError(ErrorCode.NOT_ALLOWED, "Calendar linking is not enabled for your program.")


def check_organizer(meeting: Meeting, user_id: str) -> None:
    if meeting.organizer_id != user_id:
        raise UserFacingError(
            ErrorCode.NOT_ALLOWED,
            "Only the organizer can change or cancel this meeting; answer it with respondToMeeting.",
            ("meeting_id",),
        )


NOT_AN_ADMIN = "Only the platform's service token may do this (it needs the admin role)."


def check_admin(user: User, admin_role: str) -> None:
    """The platform's backend acting for everyone: a token whose `roles` claim holds the admin role."""
    if admin_role not in user.roles:
        raise UserFacingError(ErrorCode.NOT_ALLOWED, NOT_AN_ADMIN)
