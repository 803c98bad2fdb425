"""GraphQL documents used by more than one test module; a document one module uses stays in that module."""

from __future__ import annotations

BEGIN_LINK = """
mutation Begin($input: BeginCalendarLinkInput!) {
  beginCalendarLink(input: $input) { authorizationUrl expiresAt userErrors { code message field } }
}"""

LINK = """
mutation Link($input: LinkCalendarInput!) {
  linkCalendar(input: $input) {
    connection { id provider profileName status scopes calendar { id name primary } linkedAt lastSyncedAt }
    userErrors { code message field }
  }
}"""

UNLINK = """
mutation Unlink($input: UnlinkCalendarInput!) {
  unlinkCalendar(input: $input) { unlinkedConnectionId userErrors { code message field } }
}"""

CONNECTIONS = "query { calendarConnections { id provider profileName status scopes calendar { id name primary } } }"

MEETING_FIELDS = """
  id title description location start end timeZone status createdAt updatedAt cancelledAt
  organizer { userId email }
  participants {
    userId email displayName isOrganizer response
    calendarEvent { delivery status lastError syncedAt }
  }"""

SCHEDULE = f"""
mutation Schedule($input: ScheduleMeetingInput!) {{
  scheduleMeeting(input: $input) {{ meeting {{ {MEETING_FIELDS} }} userErrors {{ code message field }} }}
}}"""

UPDATE = f"""
mutation Update($input: UpdateMeetingInput!) {{
  updateMeeting(input: $input) {{ meeting {{ {MEETING_FIELDS} }} userErrors {{ code message field }} }}
}}"""

CANCEL = f"""
mutation Cancel($input: CancelMeetingInput!) {{
  cancelMeeting(input: $input) {{ meeting {{ {MEETING_FIELDS} }} userErrors {{ code message field }} }}
}}"""

MEETING = f"query One($id: ID!) {{ meeting(id: $id) {{ {MEETING_FIELDS} }} }}"

MEETINGS = """
query List($first: Int, $after: String, $filter: MeetingFilter) {
  meetings(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id title start status } }
    pageInfo { hasNextPage endCursor }
  }
}"""

RESPOND = f"""
mutation Respond($input: RespondToMeetingInput!) {{
  respondToMeeting(input: $input) {{ meeting {{ {MEETING_FIELDS} }} userErrors {{ code message field }} }}
}}"""
