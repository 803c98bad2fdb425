"""The Cronofy event_id of a meeting (DESIGN.md §5, §7): derived from the meeting id, the same in every
calendar, so every write is an idempotent upsert and every event read back leads to its meeting."""

import pytest

from gql_api.domain.meetings import Meeting

from .builders import meeting


def test_a_meetings_event_id_is_derived_from_its_id():
    assert meeting(id="6751d6f2a9c1e3b4d5f60718").event_id == "mtg_6751d6f2a9c1e3b4d5f60718"


def test_an_event_of_ours_leads_back_to_its_meeting():
    subject = meeting(id="6751d6f2a9c1e3b4d5f60718")

    assert Meeting.id_of_event(subject.event_id) == subject.id


@pytest.mark.parametrize(
    "event_id",
    ["6751d6f2a9c1e3b4d5f60718", "MTG_6751d6f2a9c1e3b4d5f60718", "xmtg_6751d6f2", "mtg-6751d6f2", ""],
    ids=["bare-id", "upper-case-prefix", "prefix-inside", "other-separator", "empty"],
)
def test_anybody_elses_event_leads_to_no_meeting(event_id):
    assert Meeting.id_of_event(event_id) is None
