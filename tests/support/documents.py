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
