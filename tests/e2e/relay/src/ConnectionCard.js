// One linked calendar account (useRefetchableFragment), its calendar a Node of its own.
import { graphql } from 'react-relay';

export const fragment = graphql`
  fragment ConnectionCard_connection on CalendarConnection
  @refetchable(queryName: "ConnectionCardRefetchQuery") {
    id
    provider
    profileName
    status
    lastSyncedAt
    calendar {
      id
      name
      primary
    }
  }
`;
