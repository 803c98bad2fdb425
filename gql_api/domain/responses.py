"""A participant answering a meeting through the API (DESIGN.md §9).

Only the organizer changes or cancels a meeting; the other participants answer it. Declining takes the
meeting out of the participant's own calendar, like deleting it there does; for an invited participant it
withdraws the invitation on the organizer's event. Accepting after declining brings it back.
"""

from __future__ import annotations

import dataclasses

from .errors import ErrorCode, UserFacingError, invalid
from .meetings import Delivery, Meeting, ParticipantResponse

ANSWERS = frozenset({ParticipantResponse.ACCEPTED, ParticipantResponse.TENTATIVE, ParticipantResponse.DECLINED})


def answered(meeting: Meeting, user_id: str, response: ParticipantResponse) -> Meeting:
    """The meeting after `user_id` answers `response`: a new version in which only the calendar copies the
    answer touches are written again (the meeting itself unchanged when the answer is the same)."""
    if response not in ANSWERS:
        raise invalid("response", "Answer ACCEPTED, TENTATIVE or DECLINED.")
    index = meeting.participant_of(user_id)
    if index is None:  # callers look the meeting up for participants only
        raise UserFacingError(ErrorCode.NOT_FOUND, "No such meeting.", ("meeting_id",))
    participant = meeting.participants[index]
    if participant.is_organizer:
        raise UserFacingError(
            ErrorCode.NOT_ALLOWED,
            "The organizer attends their own meeting; change or cancel it instead.",
            ("meeting_id",),
        )
    declining = response is ParticipantResponse.DECLINED
    copies = list(meeting.copies)
    rewrite: set[int] = set()
    uninvited = participant.uninvited
    if participant.delivery is Delivery.OWN_CALENDAR and participant.copy is not None:
        copy = copies[participant.copy]
        if declining and not (copy.removed or copy.withdrawn):
            copies[participant.copy], rewrite = dataclasses.replace(copy, withdrawn=True), {participant.copy}
        elif not declining and (copy.removed or copy.withdrawn):
            copies[participant.copy], rewrite = copy.restored(), {participant.copy}
    elif participant.delivery is Delivery.INVITATION and participant.copy is not None and declining != uninvited:
        uninvited, rewrite = declining, {participant.copy}
    if response is participant.response and not rewrite:
        return meeting
    participants = list(meeting.participants)
    participants[index] = dataclasses.replace(participant, response=response, uninvited=uninvited)
    changed = dataclasses.replace(meeting, participants=tuple(participants), copies=tuple(copies))
    return changed.next_version(rewrite)
